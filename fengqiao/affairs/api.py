"""The API operations of village affairs, mounted by fengqiao.api.root at /api/v1/affairs.

Public reads (published notices and disclosures, services and their slots) and the public booking
operations need no credentials and return no personal data; the staff operations (publishing,
the committee's review) take the caller's token or session and the services check the scope.
Errors are the services' domain errors, made structured by fengqiao.api.errors.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from ninja import Header, Query, Router, Status

from fengqiao.affairs import selectors as sel
from fengqiao.affairs import services
from fengqiao.affairs.models import Attachment, Booking, Disclosure, Notice
from fengqiao.affairs.schemas import (
    BookingChangeIn,
    BookingIn,
    BookingOut,
    DisclosureOut,
    DisclosurePageOut,
    NoticeOut,
    NoticePageOut,
    RescheduleIn,
    ReviewIn,
    ServiceOut,
    SlotOut,
    StateOut,
    VersionIn,
    WithdrawIn,
)
from fengqiao.cases.schemas import ERROR_RESPONSES

router = Router(tags=["affairs"])
PAGE_MAX = 100


def _file(a: Attachment) -> dict[str, Any]:
    return {"name": a.name, "kind": a.kind, "content_type": a.content_type, "size": a.size,
            "url": reverse("affairs:attachment", kwargs={"attachment_id": a.pk})}


def _notice(n: Notice, *, files: bool = False) -> dict[str, Any]:
    return {"id": n.pk, "kind": n.kind, "region": {"code": n.region.code, "name": n.region.name}, "title": n.title,
            "body": n.body, "pinned": n.pinned, "published_at": n.published_at,
            "files": [_file(a) for a in n.attachments.all()] if files else []}


def _disclosure(d: Disclosure, *, detail: bool = False) -> dict[str, Any]:
    items = list(d.items.all()) if detail else []
    totals = sel.totals(items) if detail else sel.totals(list(d.items.all()))
    out: dict[str, Any] = {
        "id": d.pk, "village": {"code": d.village.code, "name": d.village.name}, "kind": d.kind, "year": d.year,
        "quarter": d.quarter, "period": d.period_label, "title": d.title, "summary": d.summary,
        "published_at": d.published_at, "income": totals.income, "expense": totals.expense, "balance": totals.balance,
        "items": [{"id": i.pk, "title": i.title, "direction": i.direction, "amount": i.amount, "note": i.note,
                   "files": [_file(a) for a in i.attachments.all()]} for i in items],
        "questions": [],
    }
    if detail:
        out["questions"] = [{"question": q.question, "item_title": q.item_title, "asked_at": q.asked_at,
                             "state": q.state_label, "answers": q.answers}
                            for q in sel.disclosure_questions(disclosure=d)]
    return out


def _booking(b: Booking) -> dict[str, Any]:
    from fengqiao.affairs.views.public import booking_token

    url = reverse("affairs:booking_ics", kwargs={"code": b.code})
    return {"code": b.code, "service": b.service_id, "start": b.start, "end": b.end, "state": b.state,
            "calendar_url": f"{url}?t={booking_token(b.code)}"}


# -- public reads ---------------------------------------------------------------------------------
@router.get("/notices", auth=None, response=NoticePageOut, operation_id="affairs_notices",
            summary="Published notices and village news")
def notices(request: HttpRequest, region: str = "", kind: str = "", offset: int = 0,
            limit: int = Query(20, ge=1, le=PAGE_MAX)):
    qs = sel.notices_public(region=sel.region_by_code(region), kind=kind)
    return {"count": qs.count(), "items": [_notice(n) for n in qs[max(offset, 0):max(offset, 0) + limit]]}


@router.get("/notices/{notice_id}", auth=None, response={200: NoticeOut, **ERROR_RESPONSES},
            operation_id="affairs_notice", summary="One published notice with its files")
def notice(request: HttpRequest, notice_id: int):
    return _notice(sel.notice_public(notice_id=notice_id), files=True)


@router.get("/disclosures", auth=None, response=DisclosurePageOut, operation_id="affairs_disclosures",
            summary="Published village affairs disclosures with their totals")
def disclosures(request: HttpRequest, region: str = "", year: int | None = None, quarter: int | None = None,
                kind: str = "", offset: int = 0, limit: int = Query(20, ge=1, le=PAGE_MAX)):
    qs = sel.disclosures_public(region=sel.region_by_code(region), year=year, quarter=quarter, kind=kind)
    page = qs.prefetch_related("items")[max(offset, 0):max(offset, 0) + limit]
    return {"count": qs.count(), "items": [_disclosure(d) for d in page]}


@router.get("/disclosures/{disclosure_id}", auth=None, response={200: DisclosureOut, **ERROR_RESPONSES},
            operation_id="affairs_disclosure", summary="One published disclosure: items, totals, questions")
def disclosure(request: HttpRequest, disclosure_id: int):
    return _disclosure(sel.disclosure_public(disclosure_id=disclosure_id), detail=True)


@router.get("/services", auth=None, response=list[ServiceOut], operation_id="affairs_services",
            summary="Services that take appointments")
def services_list(request: HttpRequest, region: str = ""):
    return [{"id": s.pk, "name": s.name, "office": s.department.name, "description": s.description,
             "documents": s.documents, "location": s.location, "duration_minutes": s.duration_minutes}
            for s in sel.services_public(region=sel.region_by_code(region))]


@router.get("/services/{service_id}/slots", auth=None, response={200: list[SlotOut], **ERROR_RESPONSES},
            operation_id="affairs_slots", summary="The coming time slots of a service with their free places")
def slots(request: HttpRequest, service_id: int, days: int = Query(14, ge=1, le=60)):
    service = sel.service_public(service_id=service_id)
    return [{"id": v.slot.pk, "start": v.slot.start, "end": v.slot.end, "free": v.free}
            for v in sel.open_slots(service=service, days=days)]


# -- public bookings ------------------------------------------------------------------------------
def _limited(request: HttpRequest, scope: str):
    """HTTP 429 (structured) beyond the public rate of `scope` for this client, else None."""
    from fengqiao.portal.abuse import check_rate, too_many_requests

    retry_after = check_rate(request, scope)
    return too_many_requests(request, retry_after) if retry_after else None


@router.post("/services/{service_id}/bookings", auth=None, response={201: BookingOut, **ERROR_RESPONSES},
             operation_id="affairs_book", summary="Book a slot (a retry with the same Idempotency-Key returns it)")
def book(request: HttpRequest, service_id: int, payload: BookingIn,
         idempotency_key: str = Header("", alias="Idempotency-Key", max_length=100)):
    if (limited := _limited(request, "affairs.booking")) is not None:
        return limited
    booking = services.booking_create(actor=request.user, service_id=service_id, slot_id=payload.slot,
                                      name=payload.name, phone=payload.phone, email=payload.email,
                                      note=payload.note, idempotency_key=idempotency_key)
    return Status(201, _booking(booking))


@router.post("/bookings/{code}/cancel", auth=None, response={200: BookingOut, **ERROR_RESPONSES},
             operation_id="affairs_booking_cancel", summary="Cancel with the code and the phone's last 4 digits")
def cancel(request: HttpRequest, code: str, payload: BookingChangeIn):
    if (limited := _limited(request, "affairs.booking_change")) is not None:
        return limited
    return _booking(services.booking_cancel(code=code, phone_last4=payload.phone_last4, actor=request.user))


@router.post("/bookings/{code}/reschedule", auth=None, response={200: BookingOut, **ERROR_RESPONSES},
             operation_id="affairs_booking_reschedule", summary="Move to another slot of the same service")
def reschedule(request: HttpRequest, code: str, payload: RescheduleIn):
    if (limited := _limited(request, "affairs.booking_change")) is not None:
        return limited
    return _booking(services.booking_reschedule(code=code, phone_last4=payload.phone_last4, slot_id=payload.slot,
                                                actor=request.user))


# -- staff ----------------------------------------------------------------------------------------
def _state(obj: Any) -> dict[str, Any]:
    return {"id": obj.pk, "state": obj.state, "version": obj.version}


@router.post("/staff/notices/{notice_id}/publish", response={200: StateOut, **ERROR_RESPONSES},
             operation_id="affairs_notice_publish", summary="Publish a draft notice")
def notice_publish(request: HttpRequest, notice_id: int, payload: VersionIn):
    return _state(services.notice_publish(actor=request.auth, notice_id=notice_id,  # type: ignore[attr-defined]
                                          expected_version=payload.version))


@router.post("/staff/notices/{notice_id}/withdraw", response={200: StateOut, **ERROR_RESPONSES},
             operation_id="affairs_notice_withdraw", summary="Withdraw a published notice, with the reason")
def notice_withdraw(request: HttpRequest, notice_id: int, payload: WithdrawIn):
    return _state(services.notice_withdraw(actor=request.auth, notice_id=notice_id,  # type: ignore[attr-defined]
                                           reason=payload.reason, expected_version=payload.version))


@router.post("/staff/disclosures/{disclosure_id}/submit", response={200: StateOut, **ERROR_RESPONSES},
             operation_id="affairs_disclosure_submit", summary="Submit a disclosure for the committee's review")
def disclosure_submit(request: HttpRequest, disclosure_id: int, payload: VersionIn):
    return _state(services.disclosure_submit(actor=request.auth, disclosure_id=disclosure_id,  # type: ignore[attr-defined]
                                             expected_version=payload.version))


@router.post("/staff/disclosures/{disclosure_id}/review", response={200: StateOut, **ERROR_RESPONSES},
             operation_id="affairs_disclosure_review", summary="The supervision committee's review")
def disclosure_review(request: HttpRequest, disclosure_id: int, payload: ReviewIn):
    review = services.disclosure_review(actor=request.auth, disclosure_id=disclosure_id,  # type: ignore[attr-defined]
                                        approve=payload.approve, reason=payload.reason,
                                        expected_version=payload.version)
    return _state(review.disclosure)


@router.post("/staff/disclosures/{disclosure_id}/publish", response={200: StateOut, **ERROR_RESPONSES},
             operation_id="affairs_disclosure_publish", summary="Publish what the committee approved")
def disclosure_publish(request: HttpRequest, disclosure_id: int, payload: VersionIn):
    return _state(services.disclosure_publish(actor=request.auth, disclosure_id=disclosure_id,  # type: ignore[attr-defined]
                                              expected_version=payload.version))
