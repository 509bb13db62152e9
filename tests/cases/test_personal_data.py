"""Reporters' contact details: encrypted at rest, masked everywhere, shown in full only with a logged reason."""

import pytest
from django.db import connection

from fengqiao.cases import services as s
from fengqiao.cases.models import Case
from fengqiao.core.errors import Forbidden, InvalidInput, NotFound
from fengqiao.core.models import PersonalDataAccess
from fengqiao.org.models import Role
from tests.factories import AssignmentFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(loop):
    return loop.report(actor=loop.operator, channel="hotline", reporter_name="张三丰", reporter_phone="13812345678")


def test_contact_is_encrypted_in_the_database(case):
    with connection.cursor() as cursor:
        cursor.execute("SELECT reporter_name, reporter_phone FROM cases_case WHERE id = %s", [case.pk])
        name, phone = cursor.fetchone()
    assert "张三丰" not in name and "13812345678" not in phone
    assert Case.objects.get(pk=case.pk).reporter_phone == "13812345678"


def test_a_role_that_needs_it_sees_the_contact_and_the_view_is_logged(loop, case):
    contact = s.case_reveal_reporter(actor=loop.operator, number=case.number, reason="回访核实诉求")
    assert (contact.name, contact.phone) == ("张三丰", "13812345678")
    access = PersonalDataAccess.objects.get()
    assert access.actor == loop.operator and case.number in access.subject and access.reason == "回访核实诉求"


def test_no_reason_no_contact(loop, case):
    with pytest.raises(InvalidInput):
        s.case_reveal_reporter(actor=loop.operator, number=case.number, reason=" ")
    assert not PersonalDataAccess.objects.exists()


def test_other_roles_and_scopes_do_not_see_it(loop, case):
    with pytest.raises(Forbidden):  # a grid worker sees the case, not the reporter's contact
        s.case_reveal_reporter(actor=loop.grid_worker, number=case.number, reason="x")
    with pytest.raises(NotFound):
        s.case_reveal_reporter(actor=loop.other_operator, number=case.number, reason="x")
    leader = UserFactory()
    AssignmentFactory(user=leader, role=Role.LEADER, region=loop.grid.region)
    with pytest.raises(Forbidden):
        s.case_reveal_reporter(actor=leader, number=case.number, reason="x")
    assert not PersonalDataAccess.objects.exists()


def test_an_anonymous_report_keeps_no_contact(loop):
    case = loop.report(actor=loop.operator, channel="hotline", anonymous=True, reporter_name="李四",
                       reporter_phone="13900000000")
    assert case.reporter_name == "" and case.reporter_phone == "" and case.reporter_phone_index == ""
