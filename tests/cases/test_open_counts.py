"""Open-case counts per area code, kept by the case table's triggers (cases.counts)."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from fengqiao.cases import services as s
from fengqiao.cases.counts import count_drift, fold_changes, open_counts, recount
from fengqiao.cases.models import Case, Channel, OpenCount, OpenCountChange

pytestmark = pytest.mark.django_db


def _figures(code):
    return open_counts([code]).get(code, {"open": 0, "overdue": 0, "flagged": 0})


def _agree():
    assert count_drift() == []


def test_reports_moves_and_endings_keep_the_counts_exact(loop, clock):
    other_grid = loop.territory.grids[1]
    first = loop.report()
    second = loop.report()
    lon, lat = loop.point(other_grid)
    third = loop.report(actor=loop.operator, channel=Channel.HOTLINE, lon=lon, lat=lat)
    assert _figures(loop.grid.code) == {"open": 2, "overdue": 0, "flagged": 0}
    assert _figures(other_grid.code) == {"open": 1, "overdue": 0, "flagged": 0}
    _agree()

    s.case_reject(actor=loop.operator, number=first.number, reason="不属于受理范围")
    s.case_merge(actor=loop.operator, number=third.number, master_number=second.number)
    assert _figures(loop.grid.code)["open"] == 1
    assert other_grid.code not in open_counts()
    _agree()

    # the whole loop to the end: an open state to another one changes nothing, closing removes it
    s.case_accept(actor=loop.operator, number=second.number)
    s.case_dispatch(actor=loop.operator, number=second.number)
    s.case_report_back(actor=loop.handler, number=second.number, result="已处理")
    assert _figures(loop.grid.code)["open"] == 1
    s.case_verify(actor=loop.grid_worker, number=second.number, passed=True)
    assert open_counts([loop.territory.county.code]) == {}
    _agree()


def test_flagging_and_the_sweeps_red_are_counted(loop, clock):
    case = loop.report()
    s.case_accept(actor=loop.operator, number=case.number)
    s.case_dispatch(actor=loop.operator, number=case.number)
    s.case_flag(actor=loop.leader, number=case.number, reason="群众反映强烈")
    assert _figures(loop.grid.code) == {"open": 1, "overdue": 0, "flagged": 1}

    clock.set(2025, 11, 13, 9, 0)  # past the two working days (Wednesday 17:30), within the grace period
    s.sweep_deadlines()
    assert Case.objects.get(pk=case.pk).warning == "red"
    assert _figures(loop.grid.code) == {"open": 1, "overdue": 1, "flagged": 1}
    _agree()


def test_folding_moves_the_changes_into_the_counts_once(loop):
    loop.report()
    loop.report()
    assert OpenCountChange.objects.count() == 2 and not OpenCount.objects.exists()
    before = open_counts()

    assert fold_changes() == 2
    assert not OpenCountChange.objects.exists()
    assert OpenCount.objects.get(area_code=loop.grid.code).open == 2
    assert open_counts() == before
    assert fold_changes() == 0  # a second run finds nothing
    assert open_counts() == before

    # after a fold, an ending is a pending −1 on top of the folded row
    case = Case.objects.filter(area_code=loop.grid.code).first()
    s.case_reject(actor=loop.operator, number=case.number, reason="重复")
    assert _figures(loop.grid.code)["open"] == 1
    fold_changes()
    assert OpenCount.objects.get(area_code=loop.grid.code).open == 1
    _agree()


def test_a_count_that_reaches_zero_is_dropped_when_folded(loop):
    case = loop.report()
    fold_changes()
    s.case_reject(actor=loop.operator, number=case.number, reason="重复")
    fold_changes()
    assert not OpenCount.objects.filter(area_code=loop.grid.code).exists()


def test_drift_is_reported_and_repaired(loop):
    loop.report()
    fold_changes()
    OpenCount.objects.filter(area_code=loop.grid.code).update(open=7)  # damaged by hand
    drift = count_drift()
    assert [(d.area_code, d.kept["open"], d.counted["open"]) for d in drift] == [(loop.grid.code, 7, 1)]
    with pytest.raises(CommandError, match="1 area codes differ"):
        call_command("audit", "counts")

    call_command("audit", "counts", "--repair")
    assert count_drift() == []
    assert _figures(loop.grid.code)["open"] == 1
    call_command("audit", "counts")  # agrees now


def test_recount_starts_from_the_cases_alone(loop):
    loop.report()
    loop.report()
    assert recount() == 1
    assert not OpenCountChange.objects.exists()
    assert OpenCount.objects.get(area_code=loop.grid.code).open == 2


def _delete_by_hand(pk):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM cases_caseevent WHERE case_id = %s", [pk])
        cursor.execute("DELETE FROM cases_case WHERE id = %s", [pk])


def test_a_deleted_open_case_is_subtracted(loop):
    case = loop.report()
    loop.report()
    fold_changes()
    _delete_by_hand(case.pk)  # the product never deletes a case
    assert _figures(loop.grid.code)["open"] == 1
    _agree()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_emptying_the_tables_leaves_no_count_behind(loop):
    """Django's flush empties every table between transactional tests, in any order."""
    loop.report()
    OpenCountChange.objects.all().delete()
    OpenCount.objects.all().delete()
    _delete_by_hand(Case.objects.get().pk)  # after the counts: nothing is left to subtract from
    assert not OpenCountChange.objects.exists()
