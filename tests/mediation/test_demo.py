"""The demo builder: every state, built through the services, the same on a second run."""

from __future__ import annotations

from collections import Counter

import pytest

from fengqiao.mediation.demo import build
from fengqiao.mediation.events import verify_chain
from fengqiao.mediation.models import Agreement, Dispute, Mediator
from fengqiao.mediation.selectors import dispute_for_party

pytestmark = pytest.mark.django_db


def test_demo_builds_every_state_and_is_idempotent(territory):
    township = territory.townships[0]
    villages = [v for v in territory.villages if v.parent_id == township.pk]
    first = build(township=township, villages=villages, password="pw-demo-1")
    states = Counter(Dispute.objects.values_list("state", flat=True))
    assert set(states) == {"registered", "assessed", "assigned", "in_mediation", "agreed", "effective", "performed",
                           "failed", "referred", "withdrawn"}
    assert 35 <= sum(states.values()) <= 45
    assert Mediator.objects.count() == 11
    assert Dispute.objects.filter(level="county").exists()
    assert Agreement.objects.filter(state="effective").count() >= 18
    assert verify_chain().ok
    party_login = [login for login in first.logins if login.role.startswith("party")]
    code, last4 = party_login[0].username.split(" + ")
    assert dispute_for_party(code=code, phone_last4=last4).state == "agreed"
    second = build(township=township, villages=villages, password="pw-demo-1")
    assert second.counts == first.counts
    assert Counter(Dispute.objects.values_list("state", flat=True)) == states
