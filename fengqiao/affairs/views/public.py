"""The residents' pages: notices and village news, village affairs disclosures with questions, and
online appointments. Phone first; nothing here shows personal data. Every POST is rate-limited per
client and passes the captcha seam."""

from __future__ import annotations

from typing import Any

from django.core import signing
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fengqiao.affairs import selectors as sel
from fengqiao.affairs import services
from fengqiao.affairs.ics import booking_ics
from fengqiao.affairs.models import Attachment, DisclosureKind, DisclosureState, NoticeKind, NoticeState
from fengqiao.affairs.views.common import captcha, captcha_html, errors_by_field, int_or_none, public_form
from fengqiao.core.errors import DomainError, NotFound
from fengqiao.core.masking import mask_name, mask_phone

BOOKING_SALT = "fengqiao.affairs.booking"
ASKED_SESSION_KEY = "affairs_asked"


def _page(qs, request: HttpRequest, size: int = sel.PAGE_SIZE):
    from django.core.paginator import Paginator

    return Paginator(qs, size).get_page(request.GET.get("page"))


# -- notices --------------------------------------------------------------------------------------
@require_GET
def notices(request: HttpRequest) -> HttpResponse:
    region = sel.region_by_code(request.GET.get("region"))
    kind = request.GET.get("kind", "")
    kind = kind if kind in NoticeKind.values else ""
    page = _page(sel.notices_public(region=region, kind=kind), request)
    return render(request, "affairs/public/notices.html", {
        "page": page, "region": region, "kind": kind, "kinds": NoticeKind.choices, "regions": sel.public_regions()})


@require_GET
def notice(request: HttpRequest, notice_id: int) -> HttpResponse:
    try:
        found = sel.notice_public(notice_id=notice_id)
    except NotFound as exc:
        raise Http404(str(exc)) from None
    return render(request, "affairs/public/notice.html", {"notice": found})


@require_GET
def attachment(request: HttpRequest, attachment_id: int) -> HttpResponseBase:
    """A file of a published notice or disclosure: its public copy (images without metadata)."""
    found = Attachment.objects.select_related("notice", "disclosure").filter(pk=attachment_id).first()
    public = found is not None and (
        (found.notice is not None and found.notice.state == NoticeState.PUBLISHED)
        or (found.disclosure is not None and found.disclosure.state == DisclosureState.PUBLISHED))
    if not public:
        raise Http404
    assert found is not None
    response = FileResponse(found.public_copy.open("rb"), content_type=found.content_type,
                            as_attachment=found.kind == "document", filename=found.name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    return response


# -- disclosures ----------------------------------------------------------------------------------
@require_GET
def disclosures(request: HttpRequest) -> HttpResponse:
    region = sel.region_by_code(request.GET.get("region"))
    year = int_or_none(request.GET.get("year"))
    quarter = int_or_none(request.GET.get("quarter"))
    quarter = quarter if quarter is not None and 0 <= quarter <= 4 else None
    kind = request.GET.get("kind", "")
    kind = kind if kind in DisclosureKind.values else ""
    page = _page(sel.disclosures_public(region=region, year=year, quarter=quarter, kind=kind), request)
    return render(request, "affairs/public/disclosures.html", {
        "page": page, "region": region, "year": year, "quarter": quarter, "kind": kind,
        "kinds": DisclosureKind.choices, "years": sel.disclosure_years(), "regions": sel.public_regions(),
        "quarters": [(1, "Q1"), (2, "Q2"), (3, "Q3"), (4, "Q4")]})


def _disclosure_context(request: HttpRequest, disclosure_id: int, **extra: Any) -> dict[str, Any]:
    try:
        found = sel.disclosure_public(disclosure_id=disclosure_id)
    except NotFound as exc:
        raise Http404(str(exc)) from None
    items = list(found.items.all())
    context = {"disclosure": found, "items": items, "totals": sel.totals(items),
               "questions": sel.disclosure_questions(disclosure=found), "values": {}, "errors": {},
               "captcha": captcha_html(request)}
    context.update(extra)
    return context


@require_GET
def disclosure(request: HttpRequest, disclosure_id: int) -> HttpResponse:
    values = {"item": request.GET.get("item", "")}
    return render(request, "affairs/public/disclosure.html", _disclosure_context(request, disclosure_id, values=values))


@never_cache
@require_POST
@public_form("affairs.question")
def disclosure_ask(request: HttpRequest, disclosure_id: int) -> HttpResponse:
    post = request.POST
    values: dict[str, Any] = {k: post.get(k, "") for k in ("item", "question", "name", "phone")}
    values["anonymous"] = post.get("anonymous") in ("on", "1", "true")
    item_id = int_or_none(values["item"])
    try:
        captcha(request)
        asked = services.disclosure_ask(
            actor=request.user, disclosure_id=disclosure_id, item_id=item_id, question=values["question"],
            name=values["name"], phone=values["phone"], anonymous=bool(values["anonymous"]))
    except NotFound as exc:
        if exc.errors[0].field is None:
            raise Http404(str(exc)) from None
        raise
    except DomainError as exc:
        context = _disclosure_context(request, disclosure_id, values=values, errors=errors_by_field(exc))
        return render(request, "affairs/public/disclosure.html", context, status=exc.status)
    request.session[ASKED_SESSION_KEY] = {"number": asked.case.number,
                                          "tracking_code": getattr(asked.case, "tracking_code", "") or "",
                                          "disclosure": disclosure_id}
    return redirect("affairs:disclosure_asked", disclosure_id=disclosure_id)


@never_cache
@require_GET
def disclosure_asked(request: HttpRequest, disclosure_id: int) -> HttpResponse:
    asked = request.session.get(ASKED_SESSION_KEY)
    if not asked or asked.get("disclosure") != disclosure_id:
        return redirect("affairs:disclosure", disclosure_id=disclosure_id)
    return render(request, "affairs/public/asked.html", {"asked": asked, "disclosure_id": disclosure_id})


# -- appointments ---------------------------------------------------------------------------------
@require_GET
def appointments(request: HttpRequest) -> HttpResponse:
    region = sel.region_by_code(request.GET.get("region"))
    return render(request, "affairs/public/appointments.html", {
        "services": sel.services_public(region=region), "region": region})


def _slot_days(service) -> list[dict[str, Any]]:
    days: dict[Any, list] = {}
    for view in sel.open_slots(service=service):
        days.setdefault(timezone.localdate(view.start), []).append(view)
    return [{"day": day, "slots": slots} for day, slots in days.items()]


def booking_token(code: str) -> str:
    return signing.dumps(code, salt=BOOKING_SALT)


def _booking_from_token(code: str, token: str):
    from fengqiao.affairs.models import Booking

    try:
        if signing.loads(token, salt=BOOKING_SALT) != code:
            raise Http404
    except signing.BadSignature:
        raise Http404 from None
    found = Booking.objects.select_related("service", "service__department", "slot").filter(code=code).first()
    if found is None:
        raise Http404
    return found


@never_cache
@require_http_methods(["GET", "POST"])
@public_form("affairs.booking")
def service_book(request: HttpRequest, service_id: int) -> HttpResponse:
    try:
        service = sel.service_public(service_id=service_id)
    except NotFound as exc:
        raise Http404(str(exc)) from None
    values: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    status = 200
    if request.method == "POST":
        post = request.POST
        values = {k: post.get(k, "").strip() for k in ("slot", "name", "phone", "email", "note", "idempotency_key")}
        try:
            captcha(request)
            booking = services.booking_create(
                actor=request.user, service_id=service.pk, slot_id=int_or_none(values["slot"]), name=values["name"],
                phone=values["phone"], email=values["email"], note=values["note"],
                idempotency_key=values["idempotency_key"])
        except DomainError as exc:
            errors, status = errors_by_field(exc), exc.status
        else:
            url = reverse("affairs:booking", kwargs={"code": booking.code})
            return redirect(f"{url}?t={booking_token(booking.code)}")
    import uuid

    values.setdefault("idempotency_key", uuid.uuid4().hex)
    return render(request, "affairs/public/service.html", {
        "service": service, "days": _slot_days(service), "values": values, "errors": errors,
        "captcha": captcha_html(request)}, status=status)


@never_cache
@require_GET
def booking(request: HttpRequest, code: str) -> HttpResponse:
    token = request.GET.get("t", "")
    found = _booking_from_token(code, token)
    return render(request, "affairs/public/booking.html", {
        "booking": found, "token": token, "masked_name": mask_name(found.name), "masked_phone": mask_phone(found.phone)})


@require_GET
def booking_calendar(request: HttpRequest, code: str) -> HttpResponse:
    found = _booking_from_token(code, request.GET.get("t", ""))
    response = HttpResponse(booking_ics(found), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="appointment-{found.code}.ics"'
    return response


@never_cache
@require_http_methods(["GET", "POST"])
@public_form("affairs.booking_change")
def booking_manage(request: HttpRequest) -> HttpResponse:
    """Find a booking by its code and the last 4 digits of the phone; cancel it or move it."""
    values = {k: request.POST.get(k, request.GET.get(k, "")).strip() for k in ("code", "phone_last4", "slot")}
    context: dict[str, Any] = {"values": values, "errors": {}, "captcha": captcha_html(request)}
    if request.method == "GET":
        return render(request, "affairs/public/manage.html", context)
    action = request.POST.get("action", "find")
    try:
        captcha(request)
        if action == "cancel":
            found = services.booking_cancel(code=values["code"], phone_last4=values["phone_last4"],
                                            actor=request.user)
            context["done"] = "cancelled"
        elif action == "reschedule":
            found = services.booking_reschedule(code=values["code"], phone_last4=values["phone_last4"],
                                                slot_id=int_or_none(values["slot"]), actor=request.user)
            context["done"] = "rescheduled"
        else:
            found = services.booking_find(code=values["code"], phone_last4=values["phone_last4"])
    except DomainError as exc:
        context["errors"] = errors_by_field(exc)
        status = exc.status
        if action in ("cancel", "reschedule"):
            try:
                context["booking"] = services.booking_find(code=values["code"], phone_last4=values["phone_last4"])
                context["days"] = _slot_days(context["booking"].service)
            except DomainError:
                pass
        return render(request, "affairs/public/manage.html", context, status=status)
    context.update(booking=found, token=booking_token(found.code), days=_slot_days(found.service),
                   masked_phone=mask_phone(found.phone))
    return render(request, "affairs/public/manage.html", context)
