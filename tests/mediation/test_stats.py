"""Statistics against a small dataset whose figures are computed by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from fengqiao.core.errors import NotFound
from fengqiao.mediation.models import (
    Agreement,
    AgreementState,
    Dispute,
    DisputeType,
    FollowUp,
    FollowUpState,
    Party,
)
from fengqiao.mediation.stats import mediation_statistics
from fengqiao.org.models import Role
from tests.factories import AssignmentFactory, UserFactory
from tests.mediation.conftest import TZ

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=TZ)


def _dispute(world, n, *, type_code, level, state, outcome="", days=None, area=None, created=T0):
    settled_at = created + timedelta(days=days) if days is not None else None
    return Dispute.objects.create(
        number=f"TJ-{n}", type=DisputeType.objects.get(code=type_code), title="t", facts="f", intake_mode="application",
        region=world.village, area_code=area or world.grid.code, level=level, state=state, outcome=outcome,
        created_at=created, updated_at=created, settled_at=settled_at,
        ended_at=settled_at or (created + timedelta(days=3) if outcome else None))


def _agreement(dispute, *, follow_ups=()):
    agreement = Agreement.objects.create(
        dispute=dispute, state=AgreementState.EFFECTIVE, facts="f", points_in_dispute="p", responsibilities="r",
        obligations="o", performance_manner="m", performance_deadline=date(2026, 3, 1), created_at=T0, updated_at=T0,
        effective_at=dispute.settled_at)
    for result in follow_ups:
        FollowUp.objects.create(dispute=dispute, agreement=agreement, due_at=T0, created_at=T0,
                                state=FollowUpState.DONE if result else FollowUpState.SCHEDULED, result=result or "")
    return agreement


def _rate(dispute, *ratings):
    for i, rating in enumerate(ratings):
        Party.objects.create(dispute=dispute, role="applicant" if i == 0 else "respondent", name="x", rating=rating)


@pytest.fixture
def dataset(world):
    other_township_grid = world.territory.grids[4]  # township 330681102
    d1 = _dispute(world, 1, type_code="neighbour", level="village", state="performed", outcome="settled", days=4)
    d2 = _dispute(world, 2, type_code="neighbour", level="township", state="effective", outcome="settled", days=10)
    d3 = _dispute(world, 3, type_code="labour", level="county", state="effective", outcome="settled", days=20)
    d4 = _dispute(world, 4, type_code="labour", level="township", state="referred", outcome="failed")
    d5 = _dispute(world, 5, type_code="family", level="village", state="withdrawn", outcome="withdrawn")
    d6 = _dispute(world, 6, type_code="family", level="township", state="in_mediation")
    # outside the centre's township: never counted for it
    _dispute(world, 7, type_code="family", level="township", state="effective", outcome="settled", days=1,
             area=other_township_grid.code)
    # registered after the period asked for below
    d8 = _dispute(world, 8, type_code="neighbour", level="village", state="registered",
                  created=datetime(2026, 6, 1, 9, 0, tzinfo=TZ))
    _agreement(d1, follow_ups=["partly", "performed"])
    _agreement(d2, follow_ups=["not_performed"])
    _agreement(d3, follow_ups=[None])  # scheduled only: not followed up yet
    _rate(d1, 5, 4)
    _rate(d4, 2)
    _rate(d3, 3)
    return [d1, d2, d3, d4, d5, d6, d8]


def test_statistics_are_true_to_the_data(world, dataset):
    st = mediation_statistics(actor=world.centre)
    assert st.total == 7  # d1–d6 and d8; d7 is in another township
    assert (st.settled, st.failed, st.withdrawn, st.open) == (3, 1, 1, 2)
    assert st.concluded == 4 and st.success_rate == 0.75
    # settled at village (d1) or township (d2) of the 3 settled
    assert st.settled_township_or_below == 2 and st.share_township_or_below == round(2 / 3, 4)
    assert st.median_days_to_settlement == 10.0
    # d1 performed (after a partly), d2 not performed, d3 not yet followed up
    assert (st.agreements_followed_up, st.agreements_performed, st.performance_rate) == (2, 1, 0.5)
    assert st.ratings == 4 and st.mean_rating == 3.5 and st.satisfaction_rate == 0.5
    assert {r.key: (r.count, r.settled) for r in st.by_type} == {"neighbour": (3, 2), "labour": (2, 1),
                                                                  "family": (2, 0)}
    assert {r.key: r.count for r in st.by_level} == {"village": 3, "township": 3, "county": 1}


def test_statistics_filters_and_scope(world, dataset):
    st = mediation_statistics(actor=world.centre, date_from=date(2026, 1, 1), date_to=date(2026, 1, 31))
    assert st.total == 6
    other = mediation_statistics(actor=world.other_centre)
    assert other.total == 1 and other.settled == 1
    with pytest.raises(NotFound):
        mediation_statistics(actor=world.other_centre, area_code=world.township.code)
    leader = UserFactory(username="leader")
    AssignmentFactory(user=leader, role=Role.LEADER, region=world.territory.county)
    assert mediation_statistics(actor=leader).total == 8
    nobody = UserFactory(username="nobody")
    with pytest.raises(NotFound):
        mediation_statistics(actor=nobody)


def test_statistics_of_nothing(world):
    st = mediation_statistics(actor=world.centre)
    assert st.total == 0 and st.success_rate is None and st.median_days_to_settlement is None
