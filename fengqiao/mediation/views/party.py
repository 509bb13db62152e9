"""The parties' pages (public, phone-first, in the resident portal's shell).

A party proves who they are with the access code they were handed and the last 4 digits of their
phone; a mismatch gets one neutral "not found" whichever of the two was wrong, and the look-up is
rate-limited per client. The browser keeps the proof in its session (never in the URL). A party
sees their own contact data and the other parties' role and masked name only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fengqiao.core.errors import DomainError, NotFound
from fengqiao.mediation import selectors, services
from fengqiao.mediation.forms import AskForAnotherForm, PartyAccessForm, RateForm, SignatureForm
from fengqiao.mediation.services import PartyCredentials
from fengqiao.mediation.views.common import party_progress, progress_steps, put_error

SESSION_KEY = "mediation.party"


def _limit(scope: str):
    try:
        from fengqiao.portal.abuse import limit_public_form
    except ImportError:  # the portal is not installed: no limit
        return lambda view: view
    return limit_public_form(scope)


def _not_found() -> str:
    return _("We found no dispute with this access code and these phone digits. Check both and try again.")


def _credentials(request: HttpRequest) -> PartyCredentials | None:
    stored = request.session.get(SESSION_KEY)
    if not isinstance(stored, dict) or not stored.get("code") or not stored.get("last4"):
        return None
    return PartyCredentials(code=str(stored["code"]), phone_last4=str(stored["last4"]))


def _view_or_access(request: HttpRequest) -> Any:
    credentials = _credentials(request)
    if credentials is None:
        return None
    try:
        return selectors.dispute_for_party(code=credentials.code, phone_last4=credentials.phone_last4)
    except NotFound:
        request.session.pop(SESSION_KEY, None)  # the code was reissued: ask again
        return None


@never_cache
@require_http_methods(["GET", "POST"])
@_limit("mediation.party_access")
def access(request: HttpRequest) -> HttpResponse:
    """The access form: the code and the last 4 digits of the phone."""
    status = 200
    if request.method == "POST":
        form = PartyAccessForm(request.POST)
        if form.is_valid():
            code, last4 = form.cleaned_data["code"], form.cleaned_data["phone_last4"]
            try:
                selectors.dispute_for_party(code=code, phone_last4=last4)
            except NotFound:
                form.add_error(None, _not_found())
                status = 404
            else:
                request.session.cycle_key()
                request.session[SESSION_KEY] = {"code": services.normalise_code(code), "last4": last4}
                return redirect("mediation:party_dispute")
        else:
            status = 422
    else:
        if _credentials(request) is not None and _view_or_access(request) is not None:
            return redirect("mediation:party_dispute")
        form = PartyAccessForm()
    return render(request, "mediation/party/access.html", {"form": form}, status=status)


def _page(request: HttpRequest, view: Any, *, alert: str = "", status: int = 200,
          **bound: forms.Form) -> HttpResponse:
    """The party's page; `bound` holds a submitted form to show again (sign_form, rate_form or
    another_form), the others are fresh."""
    shown_hash = view.agreement.pdf_hash if view.agreement is not None else ""
    return render(request, "mediation/party/dispute.html", {
        "view": view, "progress": party_progress(view.state), "steps": progress_steps(view.state),
        "sign_form": bound.get("sign_form") or SignatureForm(initial={"shown_hash": shown_hash}),
        "rate_form": bound.get("rate_form") or RateForm(), "another_form": bound.get("another_form") or AskForAnotherForm(),
        "alert": alert, "ratings": [5, 4, 3, 2, 1],
        "upcoming": [s for s in view.sessions if s.state == "scheduled"],
    }, status=status)


@never_cache
@require_GET
def party_dispute(request: HttpRequest) -> HttpResponse:
    """Follow my dispute: progress in plain words, the next session, the agreement to read and sign,
    the rating once it has ended."""
    view = _view_or_access(request)
    if view is None:
        return redirect("mediation:party_access")
    return _page(request, view)


@never_cache
@require_GET
def party_agreement_pdf(request: HttpRequest) -> HttpResponse:
    credentials = _credentials(request)
    if credentials is None:
        raise Http404(_not_found())
    try:
        data, filename, digest = selectors.party_agreement_pdf(code=credentials.code,
                                                               phone_last4=credentials.phone_last4)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["X-Content-SHA256"] = hashlib.sha256(data).hexdigest() if not digest else digest
    return response


@never_cache
@require_GET
def party_session_ics(request: HttpRequest, session_id: int) -> HttpResponse:
    credentials = _credentials(request)
    if credentials is None:
        raise Http404(_not_found())
    try:
        data = selectors.session_ics_for_party(code=credentials.code, phone_last4=credentials.phone_last4,
                                               session_id=session_id)
    except NotFound as exc:
        raise Http404(str(exc)) from exc
    response = HttpResponse(data, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="mediation-{session_id}.ics"'
    return response


@never_cache
@require_POST
@_limit("mediation.party_sign")
def party_sign(request: HttpRequest) -> HttpResponse:
    """Sign the agreement as shown: the form carries the hash of the PDF the page showed; if the
    agreement changed since, nothing is signed and the new text is shown to be read again."""
    view = _view_or_access(request)
    credentials = _credentials(request)
    if view is None or credentials is None:
        return redirect("mediation:party_access")
    form = SignatureForm(request.POST)
    if not form.is_valid():
        return _page(request, view, sign_form=form, status=422)
    if view.agreement is None:
        return _page(request, view, alert=_("There is no agreement to sign."), status=409)
    try:
        services.agreement_sign(signer=credentials, agreement=view.agreement.pk,
                                shown_hash=form.cleaned_data["shown_hash"],
                                signature_text=form.cleaned_data["signature_text"],
                                signature_image_png=form.cleaned_data["signature_image"])
    except DomainError as exc:
        if exc.code == "agreement_changed":
            # the page now shows the new text and its hash; what was typed is kept
            data = request.POST.copy()
            data["shown_hash"] = view.agreement.pdf_hash
            data.pop("agreed", None)
            fresh = SignatureForm(data)
            fresh.is_valid()
            return _page(request, view, sign_form=fresh, status=409, alert=_(
                "The agreement was changed after you opened it. Nothing was signed. Read the new version below "
                "carefully, then sign again if you agree."))
        put_error(form, exc, {"signature_image": "signature_text"})
        return _page(request, view, sign_form=form, status=exc.status)
    messages.success(request, _("Thank you: you signed the agreement."))
    return redirect("mediation:party_dispute")


def _party_form(request: HttpRequest, form_class: type[forms.Form], form_name: str,
                act: Callable[[PartyCredentials, dict[str, Any]], Any], done: str) -> HttpResponse:
    """A party's small form (a rating, asking for another mediator): the service, then back to the
    page with a thank-you; or the page again with the form's errors in the party's language."""
    view = _view_or_access(request)
    credentials = _credentials(request)
    if view is None or credentials is None:
        return redirect("mediation:party_access")
    form = form_class(request.POST)
    bound: dict[str, Any] = {form_name: form}  # a form's name, never alert or status
    if not form.is_valid():
        return _page(request, view, status=422, **bound)
    try:
        act(credentials, form.cleaned_data)
    except DomainError as exc:
        put_error(form, exc)
        return _page(request, view, status=exc.status, **bound)
    messages.success(request, done)
    return redirect("mediation:party_dispute")


@never_cache
@require_POST
@_limit("mediation.party_rate")
def party_rate(request: HttpRequest) -> HttpResponse:
    return _party_form(request, RateForm, "rate_form", lambda credentials, data: services.party_rate(
        credentials=credentials, rating=data["rating"], comment=data["comment"]), _("Thank you for your rating."))


@never_cache
@require_POST
@_limit("mediation.party_another")
def party_ask_for_another(request: HttpRequest) -> HttpResponse:
    return _party_form(request, AskForAnotherForm, "another_form", lambda credentials, data: (
        services.party_ask_for_another(credentials=credentials, reason=data["reason"])),
        _("Your request was passed to the centre, which will choose another mediator."))


@never_cache
@require_POST
def party_leave(request: HttpRequest) -> HttpResponse:
    """Forget the access code in this browser (on a shared phone)."""
    request.session.pop(SESSION_KEY, None)
    return redirect("mediation:party_access")
