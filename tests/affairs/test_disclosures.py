"""The disclosure workflow: the committee's review comes before publication, of exactly that content."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fengqiao.affairs import selectors as sel
from fengqiao.affairs import services as s
from fengqiao.affairs.models import AffairsEvent, Disclosure, DisclosureQuestion, DisclosureState
from fengqiao.cases.models import Case
from fengqiao.core.errors import Forbidden, InvalidInput, NotFound, TransitionNotAllowed

pytestmark = pytest.mark.django_db


def _items(disclosure):
    return [s.ItemInput(title=i.title, direction=i.direction, amount=i.amount, note=i.note, item_id=i.pk)
            for i in disclosure.items.all()]


def test_publishing_before_review_is_refused(people):
    d = people.finance()
    with pytest.raises(TransitionNotAllowed) as refused:
        s.disclosure_publish(actor=people.clerk, disclosure_id=d.pk)
    assert "not reviewed" in str(refused.value)
    s.disclosure_submit(actor=people.clerk, disclosure_id=d.pk)
    with pytest.raises(TransitionNotAllowed):
        s.disclosure_publish(actor=people.clerk, disclosure_id=d.pk)
    assert Disclosure.objects.get(pk=d.pk).state == DisclosureState.SUBMITTED


def test_publishing_after_an_objection_is_refused_and_edit_then_approval_publishes(people):
    d = people.finance()
    s.disclosure_submit(actor=people.clerk, disclosure_id=d.pk)
    with pytest.raises(InvalidInput):  # an objection needs its reason
        s.disclosure_review(actor=people.member, disclosure_id=d.pk, approve=False)
    s.disclosure_review(actor=people.member, disclosure_id=d.pk, approve=False, reason="道路维修缺少发票")
    with pytest.raises(TransitionNotAllowed) as refused:
        s.disclosure_publish(actor=people.clerk, disclosure_id=d.pk)
    assert "道路维修缺少发票" in str(refused.value)
    d.refresh_from_db()
    items = _items(d)
    items[1].note = "附发票"
    s.disclosure_update(actor=people.clerk, disclosure_id=d.pk, kind=d.kind, year=d.year, quarter=d.quarter,
                        title=d.title, items=items)
    s.disclosure_submit(actor=people.clerk, disclosure_id=d.pk)
    s.disclosure_review(actor=people.member, disclosure_id=d.pk, approve=True)
    published = s.disclosure_publish(actor=people.clerk, disclosure_id=d.pk)
    assert published.state == DisclosureState.PUBLISHED
    actions = list(AffairsEvent.objects.filter(subject_type="disclosure", subject_id=d.pk).values_list("action", flat=True))
    assert actions == ["create", "submit", "object", "update", "submit", "approve", "publish"]


def test_editing_an_approved_disclosure_needs_a_new_review(people):
    d = people.finance()
    s.disclosure_submit(actor=people.clerk, disclosure_id=d.pk)
    s.disclosure_review(actor=people.member, disclosure_id=d.pk, approve=True)
    d.refresh_from_db()
    items = _items(d)
    items[0].amount = "130000"
    s.disclosure_update(actor=people.clerk, disclosure_id=d.pk, kind=d.kind, year=d.year, quarter=d.quarter,
                        title=d.title, items=items)
    d.refresh_from_db()
    assert d.state == DisclosureState.DRAFT
    with pytest.raises(TransitionNotAllowed) as refused:
        s.disclosure_publish(actor=people.clerk, disclosure_id=d.pk)
    assert "edited after" in str(refused.value)
    s.disclosure_submit(actor=people.clerk, disclosure_id=d.pk)
    s.disclosure_review(actor=people.member, disclosure_id=d.pk, approve=True)
    assert s.disclosure_publish(actor=people.clerk, disclosure_id=d.pk).state == DisclosureState.PUBLISHED


def test_an_edit_behind_the_services_back_is_caught_at_publication(people):
    d = people.finance()
    s.disclosure_submit(actor=people.clerk, disclosure_id=d.pk)
    s.disclosure_review(actor=people.member, disclosure_id=d.pk, approve=True)
    item = d.items.first()
    item.amount = Decimal("1.00")
    item.save()
    with pytest.raises(TransitionNotAllowed):
        s.disclosure_publish(actor=people.clerk, disclosure_id=d.pk)


def test_only_the_villages_committee_reviews(people):
    d = people.finance()
    s.disclosure_submit(actor=people.clerk, disclosure_id=d.pk)
    with pytest.raises(Forbidden):  # the clerk sees it but does not review
        s.disclosure_review(actor=people.clerk, disclosure_id=d.pk, approve=True)
    with pytest.raises(NotFound):  # another village's member does not see it
        s.disclosure_review(actor=people.other_member, disclosure_id=d.pk, approve=True)
    with pytest.raises(Forbidden):  # not even an administrator
        s.disclosure_review(actor=people.admin, disclosure_id=d.pk, approve=True)


def test_a_clerk_of_another_village_finds_nothing(people):
    d = people.finance()
    with pytest.raises(NotFound):
        s.disclosure_submit(actor=people.other_clerk, disclosure_id=d.pk)
    with pytest.raises(NotFound):
        people.finance(actor=people.other_clerk)
    assert not sel.disclosures_for_staff(actor=people.other_clerk).exists()
    assert sel.disclosures_for_staff(actor=people.member).filter(pk=d.pk).exists()


def test_bad_items_are_named_and_nothing_is_saved(people):
    with pytest.raises(InvalidInput) as refused:
        people.finance(items=[s.ItemInput(title="", direction="income", amount="12.345"),
                              s.ItemInput(title="保洁费用", direction="", amount="-3")])
    fields = {e.field for e in refused.value.errors}
    assert {"items[0].title", "items[0].amount", "items[1].direction", "items[1].amount"} <= fields
    assert not Disclosure.objects.exists()


def test_totals_are_exact_decimals(people):
    d = people.finance(items=[s.ItemInput(title="上级补助", direction="income", amount="0.10"),
                              s.ItemInput(title="土地承包费收入", direction="income", amount="0.20"),
                              s.ItemInput(title="保洁费用", direction="expense", amount="1,000.05")])
    t = sel.totals(list(d.items.all()))
    assert t.income == Decimal("0.30") and t.expense == Decimal("1000.05") and t.balance == Decimal("-999.75")


def test_a_question_becomes_a_consult_case_linked_to_the_item(people):
    d = people.finance()
    s.disclosure_submit(actor=people.clerk, disclosure_id=d.pk)
    s.disclosure_review(actor=people.member, disclosure_id=d.pk, approve=True)
    s.disclosure_publish(actor=people.clerk, disclosure_id=d.pk)
    item = d.items.get(title="道路维修支出")
    asked = s.disclosure_ask(actor=None, disclosure_id=d.pk, item_id=item.pk, question="修的是哪一段路？",
                             name="张三", phone="13812345678")
    case = Case.objects.get(pk=asked.case_id)
    assert case.channel == "resident" and case.category == people.category
    assert "道路维修支出" in case.description and "修的是哪一段路？" in case.description
    assert case.area_code.startswith(people.village.code)
    if hasattr(case, "request_type"):
        assert case.request_type == "consult"
    questions = sel.disclosure_questions(disclosure=d)
    assert [q.question for q in questions] == ["修的是哪一段路？"] and questions[0].item_title == "道路维修支出"
    assert DisclosureQuestion.objects.count() == 1


def test_no_question_on_an_unpublished_disclosure(people):
    d = people.finance()
    with pytest.raises(NotFound):
        s.disclosure_ask(actor=None, disclosure_id=d.pk, item_id=None, question="?")


def test_the_answer_to_a_question_shows_with_the_disclosure(people):
    from fengqiao.cases.services import case_answer
    from fengqiao.org.models import Role
    from tests.factories import AssignmentFactory, UserFactory

    d = people.finance()
    s.disclosure_submit(actor=people.clerk, disclosure_id=d.pk)
    s.disclosure_review(actor=people.member, disclosure_id=d.pk, approve=True)
    s.disclosure_publish(actor=people.clerk, disclosure_id=d.pk)
    asked = s.disclosure_ask(actor=None, disclosure_id=d.pk, item_id=None, question="补助怎么用的？")
    operator = UserFactory(username="operator-a")
    AssignmentFactory(user=operator, role=Role.OPERATOR, region=people.township)
    case_answer(actor=operator, number=asked.case.number, text="用于村道修补，详见道路维修支出。")
    [question] = sel.disclosure_questions(disclosure=d)
    assert question.answers == ["用于村道修补，详见道路维修支出。"]
