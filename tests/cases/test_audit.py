"""`fengqiao audit verify` walks the hash chain and names the first broken link."""

import pytest
from django.core.management import CommandError, call_command

from fengqiao.cases import services as s
from fengqiao.cases.events import verify_chain
from fengqiao.cases.models import Case, CaseEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def cases(loop):
    made = []
    for _ in range(3):
        case = loop.report()
        s.case_accept(actor=loop.operator, number=case.number)
        made.append(s.case_dispatch(actor=loop.operator, number=case.number))
    return made


def test_an_intact_chain_verifies(cases, capsys):
    report = verify_chain()
    assert report.ok and report.cases == 3 and report.events == 9
    call_command("audit", "verify")
    assert "9 events" in capsys.readouterr().out


def test_an_edited_event_is_caught(cases):
    target = cases[1]
    CaseEvent.objects.filter(case=target, seq=2).update(reason="edited afterwards")
    report = verify_chain()
    assert not report.ok and f"case {target.number}: event 2 was altered" in report.broken
    with pytest.raises(CommandError):
        call_command("audit", "verify")


def test_a_deleted_last_event_is_caught(cases):
    target = cases[0]
    CaseEvent.objects.filter(case=target, seq=3)._raw_delete(CaseEvent.objects.db)
    report = verify_chain()
    assert not report.ok and target.number in report.broken


def test_events_cannot_be_changed_through_the_model(cases):
    event = CaseEvent.objects.first()
    event.reason = "x"
    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        event.delete()
    assert Case.objects.count() == 3
