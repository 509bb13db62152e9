"""Staff pages of village affairs: notices, disclosures (drafting, the committee's review,
publication), appointments (services, slots, the day's list). Thin: parse, call one service or
selector, render. Out of scope is 404."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fengqiao.affairs import selectors as sel
from fengqiao.affairs import services
from fengqiao.affairs.models import (
    DisclosureKind,
    DisclosureState,
    ItemDirection,
    NoticeKind,
    NoticeState,
)
from fengqiao.affairs.services.disclosures import publish_refusal
from fengqiao.affairs.views.common import errors_by_field, int_or_none, uploads
from fengqiao.core.errors import DomainError, NotFound
from fengqiao.core.masking import mask_name, mask_phone
from fengqiao.org.permissions import Action, permissions_for

STAFF_ACTIONS = (Action.PUBLISH_AFFAIRS, Action.REVIEW_DISCLOSURE, Action.MANAGE_APPOINTMENTS)
BLANK_ROWS = 3


def staff_render(request: HttpRequest, template: str, context: dict[str, Any] | None = None,
                 status: int = 200) -> HttpResponse:
    """Render a staff page with what the sub-navigation needs to know of the actor."""
    perms = permissions_for(request.user)
    context = dict(context or {})
    context["perms_affairs"] = {"publish": perms.may_ever(Action.PUBLISH_AFFAIRS),
                                "appointments": perms.may_ever(Action.MANAGE_APPOINTMENTS)}
    return render(request, template, context, status=status)


def staff_view(*actions: Action) -> Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]:
    """Signed-in staff whose roles allow one of `actions` somewhere; others get a 403 page."""
    wanted = actions or STAFF_ACTIONS

    def decorator(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("web:login"))
            perms = permissions_for(request.user)
            allowed = any(perms.may_ever(a) for a in wanted if a != Action.REVIEW_DISCLOSURE)
            if Action.REVIEW_DISCLOSURE in wanted and sel.review_area_codes(request.user):
                allowed = True
            if not allowed:
                return staff_render(request, "affairs/staff/forbidden.html", status=403)
            try:
                return view(request, *args, **kwargs)
            except NotFound as exc:
                raise Http404(str(exc)) from None

        return wrapper

    return decorator


def _may(request: HttpRequest, action: Action) -> bool:
    if action == Action.REVIEW_DISCLOSURE:
        return bool(sel.review_area_codes(request.user))
    return permissions_for(request.user).may_ever(action)


@require_GET
@staff_view()
def home(request: HttpRequest) -> HttpResponse:
    actor = request.user
    context = {
        "may_publish": _may(request, Action.PUBLISH_AFFAIRS),
        "may_review": _may(request, Action.REVIEW_DISCLOSURE),
        "may_appointments": _may(request, Action.MANAGE_APPOINTMENTS),
        "to_review": sel.disclosures_to_review(actor=actor)[:50],
    }
    if context["may_publish"]:
        context["drafts"] = sel.notices_for_staff(actor=actor, state=NoticeState.DRAFT)[:10]
        context["approved"] = sel.disclosures_for_staff(actor=actor, state=DisclosureState.APPROVED)[:10]
        context["objected"] = sel.disclosures_for_staff(actor=actor, state=DisclosureState.OBJECTED)[:10]
    if context["may_appointments"]:
        context["today"] = sel.day_list(actor=actor, day=timezone.localdate()).count()
    return staff_render(request, "affairs/staff/home.html", context)


# -- notices --------------------------------------------------------------------------------------
@require_GET
@staff_view(Action.PUBLISH_AFFAIRS)
def notice_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    state = state if state in NoticeState.values else ""
    found = sel.notices_for_staff(actor=request.user, state=state)[:sel.STAFF_LIST_LIMIT]
    return staff_render(request, "affairs/staff/notices.html", {"notices": found, "state": state,
                                                          "states": NoticeState.choices})


def _notice_form(request: HttpRequest, *, notice=None, values=None, errors=None, status=200) -> HttpResponse:
    if values is None:
        values = ({"kind": notice.kind, "region": notice.region.code, "title": notice.title, "body": notice.body,
                   "pinned": notice.pinned} if notice else {"kind": NoticeKind.NOTICE})
    events = sel.events_of(notice) if notice else []
    return staff_render(request, "affairs/staff/notice_form.html", {
        "notice": notice, "values": values, "errors": errors or {}, "kinds": NoticeKind.choices,
        "regions": sel.staff_regions(request.user, Action.PUBLISH_AFFAIRS), "events": events}, status=status)


def _notice_values(request: HttpRequest) -> dict[str, Any]:
    post = request.POST
    return {"kind": post.get("kind", ""), "region": post.get("region", ""), "title": post.get("title", ""),
            "body": post.get("body", ""), "pinned": post.get("pinned") in ("on", "1", "true"),
            "version": post.get("version", "")}


@require_http_methods(["GET", "POST"])
@staff_view(Action.PUBLISH_AFFAIRS)
def notice_new(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _notice_form(request)
    values = _notice_values(request)
    try:
        created = services.notice_create(
            actor=request.user, kind=values["kind"], region=sel.region_by_code(values["region"]),
            title=values["title"], body=values["body"], pinned=values["pinned"], files=uploads(request, "files"))
    except DomainError as exc:
        return _notice_form(request, values=values, errors=errors_by_field(exc), status=exc.status)
    messages.success(request, _("Draft saved."))
    return redirect("affairs:staff_notice", notice_id=created.pk)


@require_http_methods(["GET", "POST"])
@staff_view(Action.PUBLISH_AFFAIRS)
def notice_edit(request: HttpRequest, notice_id: int) -> HttpResponse:
    found = sel.notice_for_staff(actor=request.user, notice_id=notice_id)
    if request.method == "GET":
        return _notice_form(request, notice=found)
    values = _notice_values(request)
    values["region"] = found.region.code
    try:
        services.notice_update(
            actor=request.user, notice_id=found.pk, kind=values["kind"], title=values["title"], body=values["body"],
            pinned=values["pinned"], files=uploads(request, "files"),
            remove_attachments=[int(v) for v in request.POST.getlist("remove_attachment") if v.isdigit()],
            expected_version=int_or_none(values["version"]))
    except DomainError as exc:
        return _notice_form(request, notice=found, values=values, errors=errors_by_field(exc), status=exc.status)
    messages.success(request, _("Saved."))
    return redirect("affairs:staff_notice", notice_id=found.pk)


@require_POST
@staff_view(Action.PUBLISH_AFFAIRS)
def notice_action(request: HttpRequest, notice_id: int, action: str) -> HttpResponse:
    found = sel.notice_for_staff(actor=request.user, notice_id=notice_id)
    version = int_or_none(request.POST.get("version"))
    try:
        if action == "publish":
            services.notice_publish(actor=request.user, notice_id=found.pk, expected_version=version)
            messages.success(request, _("Published."))
        elif action == "withdraw":
            services.notice_withdraw(actor=request.user, notice_id=found.pk, reason=request.POST.get("reason", ""),
                                     expected_version=version)
            messages.success(request, _("Withdrawn."))
        else:
            raise Http404
    except DomainError as exc:
        return _notice_form(request, notice=found, errors=errors_by_field(exc), status=exc.status)
    return redirect("affairs:staff_notice", notice_id=found.pk)


# -- disclosures ----------------------------------------------------------------------------------
@require_GET
@staff_view(Action.PUBLISH_AFFAIRS, Action.REVIEW_DISCLOSURE)
def disclosure_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", "")
    state = state if state in DisclosureState.values else ""
    found = sel.disclosures_for_staff(actor=request.user, state=state)[:sel.STAFF_LIST_LIMIT]
    return staff_render(request, "affairs/staff/disclosures.html", {
        "disclosures": found, "state": state, "states": DisclosureState.choices,
        "may_publish": _may(request, Action.PUBLISH_AFFAIRS)})


def _rows(disclosure=None, posted: list[dict[str, Any]] | None = None,
          errors: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
    errors = errors or {}
    rows: list[dict[str, Any]] = []
    if posted is not None:
        rows = posted
    elif disclosure is not None:
        for item in disclosure.items.all():
            rows.append({"id": item.pk, "title": item.title, "direction": item.direction,
                         "amount": "" if item.amount is None else f"{item.amount:.2f}", "note": item.note,
                         "attachments": list(item.attachments.all())})
    rows = [r for r in rows] + [{"id": None, "title": "", "direction": "", "amount": "", "note": "",
                                 "attachments": []} for _i in range(BLANK_ROWS)]
    for n, row in enumerate(rows):
        row["n"] = n
        row["errors"] = {k.split("-", 2)[2]: v for k, v in errors.items()
                         if k.startswith(f"items-{row.get('index', n)}-")}
    return rows


def _parse_items(request: HttpRequest) -> tuple[list[services.ItemInput], list[dict[str, Any]]]:
    """The item rows of the form; blank new rows are skipped. Returns the inputs and, for
    re-rendering, the rows as typed with the index each input got (errors name that index)."""
    post = request.POST
    count = min(int_or_none(post.get("items-count")) or 0, 250)
    inputs: list[services.ItemInput] = []
    rows: list[dict[str, Any]] = []
    for n in range(count):
        prefix = f"items-{n}-"
        row: dict[str, Any] = {"id": int_or_none(post.get(prefix + "id")), "title": post.get(prefix + "title", ""),
               "direction": post.get(prefix + "direction", ""), "amount": post.get(prefix + "amount", ""),
               "note": post.get(prefix + "note", ""), "attachments": []}
        files = uploads(request, prefix + "files")
        removed = post.get(prefix + "delete") in ("on", "1")
        blank = not any(str(row[k]).strip() for k in ("title", "amount", "note")) and not files
        if removed or (blank and row["id"] is None):
            continue
        row["index"] = len(inputs)
        inputs.append(services.ItemInput(
            title=row["title"], direction=row["direction"], amount=row["amount"], note=row["note"], item_id=row["id"],
            files=files, remove_attachments=[int(v) for v in post.getlist(prefix + "remove_attachment") if v.isdigit()]))
        rows.append(row)
    return inputs, rows


def _disclosure_values(request: HttpRequest) -> dict[str, Any]:
    post = request.POST
    return {k: post.get(k, "") for k in ("village", "kind", "year", "quarter", "title", "summary", "version")}


def _disclosure_page(request: HttpRequest, *, disclosure=None, values=None, rows=None, errors=None,
                     status=200) -> HttpResponse:
    if values is None:
        if disclosure is not None:
            values = {"village": disclosure.village.code, "kind": disclosure.kind, "year": disclosure.year,
                      "quarter": disclosure.quarter, "title": disclosure.title, "summary": disclosure.summary}
        else:
            today = timezone.localdate()
            last_quarter = (today.month - 1) // 3 or 4
            values = {"kind": DisclosureKind.FINANCE, "year": today.year if last_quarter != 4 else today.year - 1,
                      "quarter": last_quarter}
    actor = request.user
    context: dict[str, Any] = {
        "disclosure": disclosure, "values": values, "errors": errors or {},
        "rows": _rows(disclosure, rows, errors), "kinds": DisclosureKind.choices,
        "directions": [(ItemDirection.INCOME, ItemDirection.INCOME.label),
                       (ItemDirection.EXPENSE, ItemDirection.EXPENSE.label)],
        "villages": [r for r in sel.staff_regions(actor, Action.PUBLISH_AFFAIRS) if r.level == "village"],
        "quarters": [(0, _("whole year"))] + [(q, _("quarter %(n)d") % {"n": q}) for q in range(1, 5)],
        "may_publish": _may(request, Action.PUBLISH_AFFAIRS),
    }
    if disclosure is not None:
        from fengqiao.affairs.services.common import may_review

        items = list(disclosure.items.all())
        context.update(
            items=items, totals=sel.totals(items), events=sel.events_of(disclosure),
            reviews=list(disclosure.reviews.all()),
            may_edit=context["may_publish"] and permissions_for(actor).can(Action.PUBLISH_AFFAIRS, disclosure)
            and disclosure.state in (DisclosureState.DRAFT, DisclosureState.SUBMITTED, DisclosureState.APPROVED,
                                     DisclosureState.OBJECTED),
            may_review=may_review(actor, disclosure.area_code) and disclosure.state == DisclosureState.SUBMITTED,
            refusal=publish_refusal(disclosure) if disclosure.state == DisclosureState.APPROVED else None,
        )
        context["may_act"] = permissions_for(actor).can(Action.PUBLISH_AFFAIRS, disclosure)
    return staff_render(request, "affairs/staff/disclosure.html", context, status=status)


@require_http_methods(["GET", "POST"])
@staff_view(Action.PUBLISH_AFFAIRS)
def disclosure_new(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _disclosure_page(request)
    values = _disclosure_values(request)
    items, rows = _parse_items(request)
    try:
        created = services.disclosure_create(
            actor=request.user, village=sel.region_by_code(values["village"]), kind=values["kind"],
            year=int_or_none(values["year"]), quarter=int_or_none(values["quarter"]), title=values["title"],
            summary=values["summary"], items=items, files=uploads(request, "files"))
    except DomainError as exc:
        return _disclosure_page(request, values=values, rows=rows, errors=errors_by_field(exc), status=exc.status)
    messages.success(request, _("Draft saved."))
    return redirect("affairs:staff_disclosure", disclosure_id=created.pk)


@require_http_methods(["GET", "POST"])
@staff_view(Action.PUBLISH_AFFAIRS, Action.REVIEW_DISCLOSURE)
def disclosure_edit(request: HttpRequest, disclosure_id: int) -> HttpResponse:
    found = sel.disclosure_for_staff(actor=request.user, disclosure_id=disclosure_id)
    if request.method == "GET":
        return _disclosure_page(request, disclosure=found)
    values = _disclosure_values(request)
    items, rows = _parse_items(request)
    try:
        updated = services.disclosure_update(
            actor=request.user, disclosure_id=found.pk, kind=values["kind"], year=int_or_none(values["year"]),
            quarter=int_or_none(values["quarter"]), title=values["title"], summary=values["summary"], items=items,
            files=uploads(request, "files"),
            remove_attachments=[int(v) for v in request.POST.getlist("remove_attachment") if v.isdigit()],
            expected_version=int_or_none(values["version"]))
    except DomainError as exc:
        values["village"] = found.village.code
        return _disclosure_page(request, disclosure=found, values=values, rows=rows, errors=errors_by_field(exc),
                                status=exc.status)
    if updated.state == DisclosureState.DRAFT and found.state != DisclosureState.DRAFT:
        messages.warning(request, _("Saved. The content changed after it was submitted, so it is a draft again: "
                                    "submit it for the committee's review."))
    else:
        messages.success(request, _("Saved."))
    return redirect("affairs:staff_disclosure", disclosure_id=found.pk)


@require_POST
@staff_view(Action.PUBLISH_AFFAIRS, Action.REVIEW_DISCLOSURE)
def disclosure_action(request: HttpRequest, disclosure_id: int, action: str) -> HttpResponse:
    found = sel.disclosure_for_staff(actor=request.user, disclosure_id=disclosure_id)
    version = int_or_none(request.POST.get("version"))
    actor = request.user
    reason = request.POST.get("reason", "")
    try:
        if action == "submit":
            services.disclosure_submit(actor=actor, disclosure_id=found.pk, expected_version=version)
            messages.success(request, _("Submitted to the village affairs supervision committee."))
        elif action == "approve":
            services.disclosure_review(actor=actor, disclosure_id=found.pk, approve=True, reason=reason,
                                       expected_version=version)
            messages.success(request, _("Review recorded: approved."))
        elif action == "object":
            services.disclosure_review(actor=actor, disclosure_id=found.pk, approve=False, reason=reason,
                                       expected_version=version)
            messages.success(request, _("Review recorded: objection."))
        elif action == "publish":
            services.disclosure_publish(actor=actor, disclosure_id=found.pk, expected_version=version)
            messages.success(request, _("Published."))
        elif action == "withdraw":
            services.disclosure_withdraw(actor=actor, disclosure_id=found.pk, reason=reason,
                                         expected_version=version)
            messages.success(request, _("Withdrawn."))
        else:
            raise Http404
    except DomainError as exc:
        errors = errors_by_field(exc)
        if action in ("approve", "object", "withdraw") and "reason" in errors:
            errors[f"{action}_reason"] = errors.pop("reason")
        return _disclosure_page(request, disclosure=found, errors=errors, status=exc.status)
    return redirect("affairs:staff_disclosure", disclosure_id=found.pk)


# -- appointments ---------------------------------------------------------------------------------
@require_GET
@staff_view(Action.MANAGE_APPOINTMENTS)
def appointments(request: HttpRequest) -> HttpResponse:
    actor = request.user
    try:
        day = date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        day = timezone.localdate()
    offered = list(sel.services_for_staff(actor=actor))
    service = next((s for s in offered if str(s.pk) == request.GET.get("service")), None)
    bookings = [{"booking": b, "name": mask_name(b.name), "phone": mask_phone(b.phone)}
                for b in sel.day_list(actor=actor, day=day, service=service)[:500]]
    return staff_render(request, "affairs/staff/appointments.html", {
        "day": day, "services": offered, "service": service, "bookings": bookings,
        "slots": {s.pk: sel.open_slots(service=s, days=14)[:5] for s in offered}})


@require_POST
@staff_view(Action.MANAGE_APPOINTMENTS)
def booking_mark(request: HttpRequest, booking_id: int) -> HttpResponse:
    try:
        marked = services.booking_mark(actor=request.user, booking_id=booking_id,
                                       attended=request.POST.get("attended") == "1")
    except NotFound as exc:
        raise Http404(str(exc)) from None
    except DomainError as exc:
        messages.error(request, str(exc))
        return redirect(reverse("affairs:staff_appointments"))
    messages.success(request, _("Marked."))
    day = timezone.localdate(marked.start).isoformat()
    return redirect(f"{reverse('affairs:staff_appointments')}?day={day}")


@require_POST
@staff_view(Action.MANAGE_APPOINTMENTS)
def slots_generate(request: HttpRequest, service_id: int) -> HttpResponse:
    service = sel.service_for_staff(actor=request.user, service_id=service_id)
    made = services.slots_generate(service=service, actor=request.user)
    messages.success(request, _("%(n)d new time slots.") % {"n": made})
    return redirect("affairs:staff_appointments")


@require_POST
@staff_view(Action.MANAGE_APPOINTMENTS)
def slot_add(request: HttpRequest, service_id: int) -> HttpResponse:
    from fengqiao.affairs.services.appointments import parse_local_datetime

    service = sel.service_for_staff(actor=request.user, service_id=service_id)
    try:
        services.slot_add(actor=request.user, service_id=service.pk,
                          start=parse_local_datetime(request.POST.get("day", ""), request.POST.get("time", "")),
                          capacity=int_or_none(request.POST.get("capacity")))
    except DomainError as exc:
        for detail in exc.errors:
            messages.error(request, f"{service.name}: {detail.message}")
    else:
        messages.success(request, _("Time slot added."))
    return redirect("affairs:staff_appointments")


@require_GET
@staff_view(Action.PUBLISH_AFFAIRS, Action.REVIEW_DISCLOSURE)
def attachment(request: HttpRequest, attachment_id: int) -> HttpResponseBase:
    """A file as uploaded (drafts included), for the clerks and the committee of its area."""
    from django.http import FileResponse

    from fengqiao.affairs.models import Attachment
    from fengqiao.affairs.services.common import may_review

    found = Attachment.objects.select_related("notice", "disclosure").filter(pk=attachment_id).first()
    owner = found.notice or found.disclosure if found is not None else None
    if found is None or owner is None or not (permissions_for(request.user).can(Action.PUBLISH_AFFAIRS, owner)
                                              or may_review(request.user, owner.area_code)):
        raise Http404
    response = FileResponse(found.original.open("rb"), content_type=found.content_type,
                            as_attachment=found.kind == "document", filename=found.name)
    response["X-Content-Type-Options"] = "nosniff"
    return response
