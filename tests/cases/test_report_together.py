"""case_report_together: a server's concurrent single reports written in one transaction, each
the case case_report would make."""

import threading

import pytest
from django.db import connections, transaction

from fengqiao.cases import services as s
from fengqiao.cases.events import verify_chain
from fengqiao.cases.models import Case, CaseEvent, CaseSequence, Channel, IdempotencyKey, RequestType, Urgency
from fengqiao.cases.services import IncomingReport, case_report_together
from fengqiao.core.errors import Conflict, NotFound
from fengqiao.notify.models import Message
from tests.cases.test_import import SAME_AS_REPORTED
from tests.waiting import wait_until

THREADS = 6
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _report(loop, i: int = 0, **fields) -> IncomingReport:
    lon, lat = loop.point()
    return IncomingReport(**{"category": loop.category, "description": f"道路积水（{i}）", "lon": lon, "lat": lat,
                             **fields})


def _concurrently(calls) -> list:
    """Run the calls in threads of their own (each with its own database connection)."""
    answers: list = [None] * len(calls)

    def run(i, call):
        try:
            answers[i] = call()
        except Exception as error:  # noqa: BLE001 - handed to the test
            answers[i] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.fixture
def groups(monkeypatch):
    """The sizes of the groups written; the first write holds on until the others wait behind it."""
    sizes: list[int] = []
    write = s._write_new_cases

    def counted(cases):
        if not sizes:
            wait_until(lambda: s._reports_together.waiting() == THREADS - 1)
        sizes.append(len(cases))
        return write(cases)

    monkeypatch.setattr(s, "_write_new_cases", counted)
    return sizes


def test_a_report_written_together_is_the_case_report_would_make(loop):
    inputs = dict(description="路灯不亮", address="解放路 8 号", urgency=Urgency.URGENT,
                  request_type=RequestType.COMPLAINT, reporter_name="王某", reporter_phone="13800001111")
    report = _report(loop, **inputs)
    alone = s.case_report(actor=loop.operator, channel=Channel.HOTLINE, category=report.category, lon=report.lon,
                          lat=report.lat, **inputs)
    together = case_report_together(actor=loop.operator, channel=Channel.HOTLINE, report=report)
    together = Case.objects.get(pk=together.pk)
    assert {f: getattr(together, f) for f in SAME_AS_REPORTED} == {f: getattr(alone, f) for f in SAME_AS_REPORTED}
    assert together.reporter_phone == "13800001111" and together.reporter_phone_index == alone.reporter_phone_index
    assert int(together.number.rsplit("-", 1)[1]) == int(alone.number.rsplit("-", 1)[1]) + 1
    event = together.events.get()
    assert (event.action, event.actor_id, event.payload["channel"]) == ("report", loop.operator.pk, "hotline")
    assert event.payload["possible_duplicates"] == [alone.number]  # same category, same place
    assert event.actor_label == alone.events.get().actor_label
    assert Message.objects.filter(topic="case.reported", case_number=together.number).count() == \
        Message.objects.filter(topic="case.reported", case_number=alone.number).count() > 0
    assert verify_chain().ok


def test_concurrent_reports_share_one_transaction_and_each_gets_its_own_case(loop, groups):
    reports = [_report(loop, i) for i in range(THREADS)]
    answers = _concurrently([
        (lambda r=r, i=i: case_report_together(actor=loop.operator, channel=Channel.API, report=r,
                                               idempotency_key=f"gateway-{i}"))
        for i, r in enumerate(reports)])
    assert all(isinstance(answer, Case) for answer in answers), answers
    assert sorted(groups) == [1, THREADS - 1]  # the first alone, the others together
    assert [a.description for a in answers] == [r.description for r in reports]
    numbers = sorted(int(a.number.rsplit("-", 1)[1]) for a in answers)
    assert numbers == list(range(1, THREADS + 1))
    assert Case.objects.count() == THREADS == CaseEvent.objects.count() == IdempotencyKey.objects.count()
    assert list(CaseSequence.objects.values_list("value", flat=True)) == [THREADS]
    assert verify_chain().ok
    # a retry of any of them returns its case and writes nothing
    again = case_report_together(actor=loop.operator, channel=Channel.API, report=reports[3], idempotency_key="gateway-3")
    assert again.pk == answers[3].pk and Case.objects.count() == THREADS
    with pytest.raises(Conflict):
        case_report_together(actor=loop.operator, channel=Channel.API, report=reports[2], idempotency_key="gateway-3")


def test_when_the_group_cannot_be_written_each_report_is_taken_alone(loop, monkeypatch):
    write = s._write_new_cases
    failed: list[int] = []

    def fails_once(cases):
        if not failed:
            wait_until(lambda: s._reports_together.waiting() == THREADS - 1)
            failed.append(len(cases))
            raise RuntimeError("the connection was lost")
        return write(cases)

    monkeypatch.setattr(s, "_write_new_cases", fails_once)
    answers = _concurrently([
        (lambda i=i: case_report_together(actor=loop.operator, channel=Channel.API, report=_report(loop, i)))
        for i in range(THREADS)])
    assert all(isinstance(answer, Case) for answer in answers), answers
    assert failed == [1] and Case.objects.count() == THREADS
    assert len({a.number for a in answers}) == THREADS and verify_chain().ok


def test_a_report_is_checked_before_it_waits(loop, monkeypatch):
    monkeypatch.setattr(s._reports_together, "submit", lambda job: pytest.fail("a refused report must not wait"))
    with pytest.raises(NotFound):  # a grid worker reports in their own grid only
        case_report_together(actor=loop.grid_worker, channel=Channel.GRID_WORKER,
                             report=_report(loop, lon=None, lat=None, grid=loop.territory.grids[5]))
    assert not Case.objects.exists()


def test_inside_a_transaction_the_report_is_taken_alone(loop, monkeypatch):
    monkeypatch.setattr(s._reports_together, "submit", lambda job: pytest.fail("the caller's transaction must hold the case"))
    with transaction.atomic():
        case = case_report_together(actor=loop.operator, channel=Channel.HOTLINE, report=_report(loop))
        transaction.set_rollback(True)
    assert case.number and not Case.objects.exists()
