"""Follow up: track a request by its code (+ the last 4 digits of the phone) or from the account, and rate it."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fengqiao.cases import selectors as case_selectors
from fengqiao.cases import services as case_services
from fengqiao.cases.models import Case, CaseAttachment
from fengqiao.cases.numbering import normalise_tracking_code, tracking_code_display
from fengqiao.cases.states import CaseState
from fengqiao.core.errors import DomainError, NotFound
from fengqiao.portal import selectors
from fengqiao.portal.abuse import captcha_check, captcha_widget, limit_public_form
from fengqiao.portal.views.common import SESSION_REPORTED, SESSION_TRACKED, errors_by_field, remember

RATEABLE = {CaseState.CLOSED}


def _not_found() -> str:
    # one message whatever was wrong: no hint whether the code or the phone digits did not match
    return _("We found no request with this code and these phone digits. Check both and try again.")


def _last4(text: str) -> str:
    digits = "".join(ch for ch in (text or "") if ch.isdigit())
    return digits[-4:] if len(digits) >= 4 else ""


def _proved_case(request: HttpRequest, code: str) -> Case:
    """The case of `code` if this browser proved it (code + digits, the report itself, or the account)."""
    tracked: dict[str, Any] = request.session.get(SESSION_TRACKED, {})
    user = request.user if request.user.is_authenticated else None
    phone_last4 = tracked.get(code, "") if isinstance(tracked.get(code), str) else ""
    if code not in tracked and code not in request.session.get(SESSION_REPORTED, {}) and user is None:
        raise Http404(_not_found())
    try:
        return case_selectors.case_for_resident(code=code, phone_last4=phone_last4, user=user)
    except NotFound:
        if code in request.session.get(SESSION_REPORTED, {}):
            # the browser that reported it: the case itself, looked up by its code
            case = Case.objects.filter(tracking_code=code).first()
            if case is not None and not case.reporter_phone:
                return case
        raise Http404(_not_found()) from None


@never_cache
@require_http_methods(["GET", "POST"])
@limit_public_form("portal.track")
def track(request: HttpRequest) -> HttpResponse:
    """The look-up form: code + last 4 digits of the phone (none when the request left no phone)."""
    context: dict[str, Any] = {"values": {}, "errors": {}, "captcha": captcha_widget(request)}
    if request.method == "POST":
        code = normalise_tracking_code(request.POST.get("code", ""))
        phone_last4 = _last4(request.POST.get("phone_last4", ""))
        context["values"] = {"code": request.POST.get("code", "")[:30]}
        try:
            captcha_check(request)
            user = request.user if request.user.is_authenticated else None
            case = case_selectors.case_for_resident(code=code, phone_last4=phone_last4, user=user)
        except NotFound:
            context["errors"] = {"general": [_not_found()]}
            return render(request, "portal/track.html", context, status=404)
        except DomainError as exc:
            context["errors"] = errors_by_field(exc)
            return render(request, "portal/track.html", context, status=exc.status)
        remember(request, SESSION_TRACKED, case.tracking_code or code, phone_last4)
        return redirect("portal:track_case", code=case.tracking_code)
    return render(request, "portal/track.html", context)


def _photos(case: Case) -> list[CaseAttachment]:
    return list(case.attachments.filter(kind__in=[CaseAttachment.Kind.REPORT, CaseAttachment.Kind.AFTER])
                .order_by("created_at"))


def _case_page(request: HttpRequest, case: Case, *, errors: dict[str, list[str]] | None = None,
               values: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    timeline = selectors.scrubbed_timeline(case)
    answers = [entry for entry in timeline if entry.highlight]
    return render(request, "portal/track_case.html", {
        "case": case, "code": tracking_code_display(case.tracking_code), "raw_code": case.tracking_code,
        "timeline": timeline, "answer": answers[-1] if answers else None, "photos": _photos(case),
        "rateable": case.state in RATEABLE and case.rating is None, "errors": errors or {}, "values": values or {},
        "ratings": [5, 4, 3, 2, 1],
    }, status=status)


@never_cache
@require_GET
def track_case(request: HttpRequest, code: str) -> HttpResponse:
    case = _proved_case(request, normalise_tracking_code(code))
    return _case_page(request, case)


@never_cache
@require_POST
@limit_public_form("portal.rate")
def rate(request: HttpRequest, code: str) -> HttpResponse:
    code = normalise_tracking_code(code)
    case = _proved_case(request, code)
    tracked = request.session.get(SESSION_TRACKED, {})
    rating_text = request.POST.get("rating", "")
    comment = request.POST.get("comment", "")
    try:
        rating = int(rating_text) if rating_text.strip().isdigit() else 0
        case = case_services.case_rate_by_resident(
            code=code, rating=rating, comment=comment,
            phone_last4=tracked.get(code, "") if isinstance(tracked.get(code), str) else "",
            user=request.user if request.user.is_authenticated else None)
    except NotFound:
        raise Http404(_not_found()) from None
    except DomainError as exc:
        return _case_page(request, case, errors=errors_by_field(exc), values={"rating": rating_text,
                                                                               "comment": comment},
                          status=exc.status)
    from django.contrib import messages

    if case.state != CaseState.CLOSED and case.state != CaseState.RATED:
        messages.success(request, _("Thank you. We are sorry the result did not satisfy you: the case is being "
                                    "reviewed again."))
    else:
        messages.success(request, _("Thank you for your rating."))
    return redirect(reverse("portal:track_case", args=[code]))


@login_required(login_url="portal:login")
@require_GET
def my_requests(request: HttpRequest) -> HttpResponse:
    cases = selectors.my_requests(actor=request.user)
    return render(request, "portal/my_requests.html", {"cases": cases})
