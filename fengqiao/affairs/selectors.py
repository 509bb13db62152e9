"""Reads of village affairs. Public reads show only what is published and never personal data;
staff reads take the actor and apply the permission resolver's scope (out of scope: not found)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fengqiao.affairs.models import (
    ACTIVE_BOOKING_STATES,
    AffairsEvent,
    AppointmentService,
    Attachment,
    Booking,
    Disclosure,
    DisclosureItem,
    DisclosureQuestion,
    DisclosureState,
    ItemDirection,
    Notice,
    NoticeState,
    Slot,
)
from fengqiao.core import clock
from fengqiao.core.errors import NotFound
from fengqiao.geo.codes import under
from fengqiao.geo.models import Region, RegionLevel
from fengqiao.org.permissions import Action, permissions_for

PAGE_SIZE = 20
STAFF_LIST_LIMIT = 200


def _scoped(qs: QuerySet, actor: Any, *actions: Action, area_field: str = "area_code",
            department_fields: tuple[str, ...] = ()) -> QuerySet:
    perms = permissions_for(actor)
    q = Q(pk__in=[])
    for action in actions:
        part = perms.scope_q(action, area_field=area_field, department_fields=department_fields)
        if part is None:
            return qs
        q |= part
    return qs.filter(q)


# -- places ---------------------------------------------------------------------------------------
def public_regions() -> list[Region]:
    """Townships and villages, for the public filters."""
    return list(Region.objects.filter(level__in=(RegionLevel.TOWNSHIP, RegionLevel.VILLAGE)).order_by("code"))


def region_by_code(code: str | None) -> Region | None:
    if not code:
        return None
    return Region.objects.filter(code=code, level__in=(RegionLevel.TOWNSHIP, RegionLevel.VILLAGE)).first()


def staff_regions(actor: Any, *actions: Action) -> list[Region]:
    """Villages and townships where the actor may do one of `actions`."""
    return list(_scoped(Region.objects.filter(level__in=(RegionLevel.TOWNSHIP, RegionLevel.VILLAGE)), actor,
                        *actions, area_field="code").order_by("code"))


# -- notices --------------------------------------------------------------------------------------
def notices_public(*, region: Region | None = None, kind: str = "") -> QuerySet[Notice]:
    """Published notices; for a village also those of its township (they concern it too)."""
    qs = Notice.objects.filter(state=NoticeState.PUBLISHED).select_related("region")
    if region is not None:
        parent = region.parent if region.level == RegionLevel.VILLAGE else None
        codes = [region.code] + ([parent.code] if parent is not None else [])
        if region.level == RegionLevel.TOWNSHIP:
            qs = qs.filter(area_code__startswith=region.code)
        else:
            qs = qs.filter(area_code__in=codes)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-pinned", "-published_at", "-pk")


def notice_public(*, notice_id: int) -> Notice:
    notice = (Notice.objects.filter(pk=notice_id, state=NoticeState.PUBLISHED).select_related("region")
              .prefetch_related("attachments").first())
    if notice is None:
        raise NotFound("not_found", _("No such notice."))
    return notice


def notices_for_staff(*, actor: Any, state: str = "", region: Region | None = None) -> QuerySet[Notice]:
    qs = _scoped(Notice.objects.select_related("region"), actor, Action.PUBLISH_AFFAIRS)
    if state:
        qs = qs.filter(state=state)
    if region is not None:
        qs = qs.filter(area_code__startswith=region.code)
    return qs.order_by("-updated_at")


def notice_for_staff(*, actor: Any, notice_id: int) -> Notice:
    notice = (notices_for_staff(actor=actor).filter(pk=notice_id).prefetch_related("attachments")
              .select_related("published_by", "withdrawn_by", "created_by").first())
    if notice is None:
        raise NotFound("not_found", _("No such notice."))
    return notice


# -- disclosures ----------------------------------------------------------------------------------
@dataclass
class Totals:
    income: Decimal
    expense: Decimal

    @property
    def balance(self) -> Decimal:
        return self.income - self.expense


def totals(items: list[DisclosureItem]) -> Totals:
    income = sum((i.amount or Decimal("0") for i in items if i.direction == ItemDirection.INCOME), Decimal("0"))
    expense = sum((i.amount or Decimal("0") for i in items if i.direction == ItemDirection.EXPENSE), Decimal("0"))
    return Totals(income=income.quantize(Decimal("0.01")), expense=expense.quantize(Decimal("0.01")))


def disclosures_public(*, region: Region | None = None, year: int | None = None,
                       quarter: int | None = None, kind: str = "") -> QuerySet[Disclosure]:
    qs = Disclosure.objects.filter(state=DisclosureState.PUBLISHED).select_related("village")
    if region is not None:
        qs = qs.filter(area_code__startswith=region.code)
    if year:
        qs = qs.filter(year=year)
    if quarter is not None:
        qs = qs.filter(quarter=quarter)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("-year", "-quarter", "area_code", "kind")


def disclosure_years() -> list[int]:
    return sorted(set(Disclosure.objects.filter(state=DisclosureState.PUBLISHED).values_list("year", flat=True)),
                  reverse=True)


def _with_content(qs: QuerySet[Disclosure]) -> QuerySet[Disclosure]:
    return qs.select_related("village").prefetch_related(
        Prefetch("items", queryset=DisclosureItem.objects.prefetch_related("attachments").order_by("order", "pk")),
        Prefetch("attachments", queryset=Attachment.objects.filter(item__isnull=True), to_attr="own_attachments"),
    )


def disclosure_public(*, disclosure_id: int) -> Disclosure:
    found = _with_content(Disclosure.objects.filter(pk=disclosure_id, state=DisclosureState.PUBLISHED)).first()
    if found is None:
        raise NotFound("not_found", _("No such disclosure."))
    return found


@dataclass
class PublicQuestion:
    question: str
    item_title: str
    asked_at: datetime
    state_label: str
    answers: list[str]


def _public_timeline(case: Any) -> list[Any]:
    """The case's public timeline (fengqiao.cases.public), or nothing where it is not available."""
    try:
        from fengqiao.cases.public import public_timeline
    except ImportError:
        return []
    return list(public_timeline(case))


def disclosure_questions(*, disclosure: Disclosure) -> list[PublicQuestion]:
    """The questions asked on a disclosure, with the case's state and the public answers."""
    found = []
    for row in DisclosureQuestion.objects.filter(disclosure=disclosure).select_related("case", "item")[:100]:
        answers = [entry.detail for entry in _public_timeline(row.case)
                   if getattr(entry, "highlight", False) and getattr(entry, "detail", "")]
        found.append(PublicQuestion(question=row.question, item_title=row.item.title if row.item else "",
                                    asked_at=row.asked_at, state_label=str(row.case.get_state_display()),
                                    answers=answers))
    return found


def disclosures_for_staff(*, actor: Any, state: str = "") -> QuerySet[Disclosure]:
    qs = _scoped(Disclosure.objects.select_related("village"), actor, Action.PUBLISH_AFFAIRS,
                 Action.REVIEW_DISCLOSURE)
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-updated_at")


def review_area_codes(actor: Any) -> list[str]:
    """The villages (code prefixes) whose committee the actor sits on (superusers included only
    through such an assignment of their own)."""
    from fengqiao.org.permissions import ROLE_ACTIONS

    return sorted({g.area_code for g in permissions_for(actor).grants
                   if Action.REVIEW_DISCLOSURE in ROLE_ACTIONS[g.role] and g.area_code is not None})


def disclosures_to_review(*, actor: Any) -> QuerySet[Disclosure]:
    return Disclosure.objects.select_related("village").filter(under(review_area_codes(actor)), state=DisclosureState.SUBMITTED).order_by(
        "submitted_at")


def disclosure_for_staff(*, actor: Any, disclosure_id: int) -> Disclosure:
    found = _with_content(disclosures_for_staff(actor=actor).filter(pk=disclosure_id)).prefetch_related(
        "reviews__reviewer").first()
    if found is None:
        raise NotFound("not_found", _("No such disclosure."))
    return found


EVENT_LABELS = {
    "create": gettext_lazy("created"), "update": gettext_lazy("edited"), "submit": gettext_lazy("submitted for review"),
    "approve": gettext_lazy("approved by the committee"), "object": gettext_lazy("objection by the committee"),
    "publish": gettext_lazy("published"), "withdraw": gettext_lazy("withdrawn"),
    "question": gettext_lazy("a resident asked a question"),
}


@dataclass
class EventRow:
    at: datetime
    actor: str
    label: str
    state: str
    reason: str


def events_of(subject: Any) -> list[EventRow]:
    """The subject's history with labels in the user's language."""
    from fengqiao.affairs.models import DisclosureState, NoticeState

    states = {**dict(NoticeState.choices), **dict(DisclosureState.choices)}
    rows = []
    for e in AffairsEvent.objects.filter(subject_type=type(subject).__name__.lower(), subject_id=subject.pk
                                         ).select_related("actor").order_by("at", "pk"):
        rows.append(EventRow(at=e.at, actor=e.actor.get_username() if e.actor else str(_("resident")),
                             label=str(EVENT_LABELS.get(e.action, e.action)),
                             state=str(states.get(e.to_state, "")) if e.to_state != e.from_state else "",
                             reason=e.reason))
    return rows


# -- appointments ---------------------------------------------------------------------------------
def services_public(*, region: Region | None = None) -> QuerySet[AppointmentService]:
    qs = AppointmentService.objects.filter(is_active=True).select_related("department", "region")
    if region is not None:
        # services of the region's offices or offices above it (a village is served by its township's)
        prefixes = [region.code[:n] for n in (6, 9, 12) if len(region.code) >= n]
        qs = qs.filter(area_code__in=prefixes)
    return qs.order_by("department__code", "name_zh")


def service_public(*, service_id: int) -> AppointmentService:
    found = AppointmentService.objects.filter(pk=service_id, is_active=True).select_related("department").first()
    if found is None:
        raise NotFound("not_found", _("No such service."))
    return found


@dataclass
class SlotView:
    slot: Slot
    free: int

    @property
    def start(self) -> datetime:
        return self.slot.start


def open_slots(*, service: AppointmentService, days: int = 14, start: datetime | None = None) -> list[SlotView]:
    """The future, open slots of a service with their free places (full ones included, free=0)."""
    now = start or clock.now()
    slots = (Slot.objects.filter(service=service, is_active=True, start__gt=now,
                                 start__lt=now + timedelta(days=days + 1))
             .annotate(taken=Count("bookings", filter=Q(bookings__state__in=ACTIVE_BOOKING_STATES)))
             .order_by("start"))
    return [SlotView(slot=s, free=max(0, s.capacity - s.taken)) for s in slots]  # type: ignore[attr-defined]


def services_for_staff(*, actor: Any) -> QuerySet[AppointmentService]:
    return _scoped(AppointmentService.objects.select_related("department"), actor, Action.MANAGE_APPOINTMENTS,
                   department_fields=("department_id",)).order_by("department__code", "name_zh")


def service_for_staff(*, actor: Any, service_id: int) -> AppointmentService:
    found = services_for_staff(actor=actor).filter(pk=service_id).first()
    if found is None:
        raise NotFound("not_found", _("No such service."))
    return found


def day_list(*, actor: Any, day: date, service: AppointmentService | None = None) -> QuerySet[Booking]:
    """The bookings of a day in the actor's offices (names and phones are masked by the page)."""
    tz = timezone.get_default_timezone()
    begins = datetime.combine(day, datetime.min.time(), tzinfo=tz)
    qs = Booking.objects.filter(start__gte=begins, start__lt=begins + timedelta(days=1)).select_related(
        "service", "service__department", "slot")
    qs = _scoped(qs, actor, Action.MANAGE_APPOINTMENTS, area_field="service__area_code",
                 department_fields=("service__department_id",))
    if service is not None:
        qs = qs.filter(service=service)
    return qs.order_by("start", "service__name_zh", "pk")
