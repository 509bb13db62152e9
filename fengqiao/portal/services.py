"""Writes of the resident portal: resident accounts, e-mail subscriptions and the update mailer.

Reports, answers and ratings are the case loop's own services (fengqiao.cases.services); the portal
only calls them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from fengqiao.core import clock
from fengqiao.core.crypto import blind_index
from fengqiao.core.errors import ErrorDetail, InvalidInput, NotFound
from fengqiao.portal.models import MailCursor, ResidentProfile, Subscription

EMAIL_MAX = 254
UPDATES_BATCH = 500


def site_url() -> str:
    """The public address of the site, for links in e-mails (SITE_URL, i.e. FENGQIAO_SITE_URL)."""
    value = getattr(settings, "SITE_URL", None) or "http://127.0.0.1:8000"
    return str(value).rstrip("/")


def _clean_email(email: str, field: str = "email") -> str:
    email = (email or "").strip()
    if not email:
        raise InvalidInput("required", _("Give an e-mail address."), field=field)
    if len(email) > EMAIL_MAX:
        raise InvalidInput("too_long", _("The e-mail address is too long."), field=field)
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput("invalid_email", _("This is not an e-mail address."), field=field) from None
    local, _at, domain = email.rpartition("@")
    return f"{local}@{domain.lower()}"


# -- resident accounts -----------------------------------------------------------------------------
@transaction.atomic
def resident_register(*, email: str, password: str, email_on_changes: bool = True) -> Any:
    """A resident account: the e-mail is the username; no staff flag, no roles, no assignments."""
    User = get_user_model()
    errors: list[ErrorDetail] = []
    try:
        email = _clean_email(email)
    except InvalidInput as exc:
        errors.extend(exc.errors)
    candidate = User(username=email.lower(), email=email)
    try:
        password_validation.validate_password(password or "", user=candidate)
    except ValidationError as exc:
        errors.append(ErrorDetail("weak_password", " ".join(str(m) for m in exc.messages), "password"))
    if errors:
        raise InvalidInput("invalid_account", errors[0].message, errors=errors)
    if User.objects.filter(username__iexact=email.lower()).exists():
        raise InvalidInput("email_taken", _("An account with this e-mail address exists already. Sign in instead."),
                           field="email")
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=email.lower(), email=email, password=password)
    except IntegrityError:
        raise InvalidInput("email_taken", _("An account with this e-mail address exists already. Sign in instead."),
                           field="email") from None
    ResidentProfile.objects.create(user=user, email_on_changes=email_on_changes, created_at=clock.now())
    return user


@transaction.atomic
def resident_set_preferences(*, actor: Any, email_on_changes: bool) -> ResidentProfile:
    if not getattr(actor, "is_authenticated", False):
        raise NotFound("not_found", _("Sign in first."))
    profile, _created = ResidentProfile.objects.select_for_update().get_or_create(
        user=actor, defaults={"created_at": clock.now(), "email_on_changes": email_on_changes})
    profile.email_on_changes = email_on_changes
    profile.save(update_fields=["email_on_changes"])
    return profile


# -- e-mail subscriptions (double opt-in) ------------------------------------------------------------
def _public_case(number: str, *, own_request: bool = False) -> Any:
    from fengqiao.cases.models import Case

    cases = Case.objects.filter(number=(number or "").strip()).select_related("grid")
    case = (cases if own_request else cases.filter(is_public=True)).first()
    if case is None:
        raise NotFound("not_found", _("No such public case."), field="case")
    return case


def _grid(code: str) -> Any:
    from fengqiao.geo.models import Grid

    grid = Grid.objects.filter(code=(code or "").strip()).first()
    if grid is None:
        raise NotFound("not_found", _("No such grid."), field="grid")
    return grid


def _confirm_mail(subscription: Subscription, target_label: str) -> None:
    from fengqiao.notify.models import Channel
    from fengqiao.notify.services import EmailAddress, notify

    link = site_url() + reverse("portal:subscription_confirm", args=[subscription.token])
    cancel = site_url() + reverse("portal:subscription_cancel", args=[subscription.token])
    with translation.override(subscription.language):
        subject = _("Please confirm: updates about %(target)s") % {"target": target_label}
        body = "\n\n".join([
            _("Somebody (we hope you) asked the village service portal to send updates about %(target)s to this "
              "address.") % {"target": target_label},
            _("To confirm, open this link: %(link)s") % {"link": link},
            _("If this was not you, ignore this message; nothing will be sent. Unsubscribe: %(link)s")
            % {"link": cancel},
        ])
    notify(topic="portal.subscription.confirm", recipients=[EmailAddress(subscription.email)], subject=subject,
           body=body, dedup_key_base=f"portal:subscription:{subscription.token}:confirm", channels=(Channel.EMAIL,),
           webhooks=False)


def target_label(subscription: Subscription) -> str:
    if subscription.case is not None:
        return _("case %(number)s") % {"number": subscription.case.number}
    return _("grid %(name)s") % {"name": subscription.grid.name if subscription.grid else ""}


@transaction.atomic
def subscription_request(*, email: str, case_number: str = "", grid_code: str = "",
                         own_request: bool = False) -> Subscription:
    """Ask for e-mail about a public case or a grid; a confirmation link is mailed (double opt-in).
    `own_request`: the reporter's address given on the report form, for their own (maybe private) case.

    Asking again for the same address and target sends nothing new while the first request stands.
    """
    email = _clean_email(email)
    if bool(case_number) == bool(grid_code):
        raise InvalidInput("target_required", _("Choose a case or a grid to follow."), field="target")
    case = _public_case(case_number, own_request=own_request) if case_number else None
    grid = _grid(grid_code) if grid_code else None
    index = blind_index(email.lower(), "email")
    now = clock.now()
    lookup: dict[str, Any] = {"email_index": index, "case": case} if case else {"email_index": index, "grid": grid}
    subscription = Subscription.objects.select_for_update().filter(**lookup).first()
    language = translation.get_language() or settings.LANGUAGE_CODE
    if subscription is None:
        try:
            with transaction.atomic():
                subscription = Subscription.objects.create(
                    email=email, email_index=index, kind=Subscription.Kind.CASE if case else Subscription.Kind.GRID,
                    case=case, grid=grid, token=secrets.token_urlsafe(32), language=language, created_at=now,
                    own_request=own_request and case is not None)
        except IntegrityError:  # the same request at the same moment: the first one stands
            subscription = Subscription.objects.get(**lookup)
            return subscription
    elif subscription.cancelled_at is not None:
        subscription.cancelled_at = subscription.confirmed_at = None
        subscription.token = secrets.token_urlsafe(32)
        subscription.language, subscription.created_at = language, now
        subscription.save()
    else:
        return subscription  # waiting for confirmation or active: nothing new to send
    _confirm_mail(subscription, target_label(subscription))
    return subscription


def _by_token(token: str) -> Subscription:
    subscription = (Subscription.objects.select_for_update(of=("self",)).select_related("case", "grid")
                    .filter(token=(token or "")[:43]).first())
    if subscription is None:
        raise NotFound("not_found", _("This link is not valid (any more)."))
    return subscription


@transaction.atomic
def subscription_confirm(*, token: str) -> Subscription:
    subscription = _by_token(token)
    if subscription.cancelled_at is not None:
        raise NotFound("not_found", _("This link is not valid (any more)."))
    if subscription.confirmed_at is None:
        subscription.confirmed_at = clock.now()
        subscription.save(update_fields=["confirmed_at"])
    return subscription


@transaction.atomic
def subscription_cancel(*, token: str) -> Subscription:
    subscription = _by_token(token)
    if subscription.cancelled_at is None:
        subscription.cancelled_at = clock.now()
        subscription.save(update_fields=["cancelled_at"])
    return subscription


# -- the update mailer (periodic) ---------------------------------------------------------------------
@dataclass
class UpdatesReport:
    events: int = 0
    messages: int = 0


def _describe(event: Any) -> str:
    """One event in words a resident understands (as on the public timeline)."""
    from fengqiao.cases.public import public_event_text

    return public_event_text(event)


def send_case_updates(*, limit: int = UPDATES_BATCH) -> UpdatesReport:
    """E-mail new public events of followed cases and grids, and of residents' own requests to account
    holders who asked for it. Idempotent: a cursor on CaseEvent ids moves in the same transaction as
    the outbox rows, and each row's dedup key names the event and the recipient."""
    from fengqiao.cases.models import CaseEvent
    from fengqiao.notify.models import Channel
    from fengqiao.notify.services import EmailAddress, notify

    report = UpdatesReport()
    with transaction.atomic():
        cursor, _created = MailCursor.objects.select_for_update().get_or_create(name="case_updates")
        events = list(CaseEvent.objects.filter(pk__gt=cursor.last_event_id, is_public=True, seq__gt=1)
                      .select_related("case", "case__grid", "case__reporter_user").order_by("pk")[:limit])
        if not events:
            return report
        grid_codes = {e.case.grid.code for e in events if e.case.grid is not None and e.case.is_public}
        case_ids = {e.case_id for e in events}
        subscriptions = list(Subscription.objects.filter(confirmed_at__isnull=False, cancelled_at__isnull=True)
                             .filter(models_q(case_ids, grid_codes)).select_related("case", "grid"))
        for event in events:
            case = event.case
            report.events += 1
            text = _describe(event)
            if not text:
                continue  # a public event the resident's timeline does not show either
            link = site_url() + (reverse("portal:public_case", args=[case.number]) if case.is_public
                                 else reverse("portal:track"))
            for subscription in subscriptions:
                follows = (subscription.case_id == case.pk and (case.is_public or subscription.own_request)) or (
                    case.is_public and subscription.grid_id is not None and case.grid_id == subscription.grid_id)
                if not follows:
                    continue
                cancel = site_url() + reverse("portal:subscription_cancel", args=[subscription.token])
                with translation.override(subscription.language):
                    subject = _("Update on case %(number)s") % {"number": case.number}
                    body = "\n\n".join([text, _("See the public case: %(link)s") % {"link": link},
                                        _("Unsubscribe: %(link)s") % {"link": cancel}])
                report.messages += len(notify(
                    topic="portal.case.update", recipients=[EmailAddress(subscription.email)], subject=subject,
                    body=body, case_number=case.number, channels=(Channel.EMAIL,), webhooks=False,
                    dedup_key_base=f"portal:event:{event.pk}:subscription:{subscription.pk}"))
            user: Any = case.reporter_user
            profile = getattr(user, "resident_profile", None) if user is not None else None
            if profile is not None and profile.email_on_changes and user.email and event.actor_id != user.pk:
                mine = site_url() + reverse("portal:my_requests")
                subject = _("Your request %(code)s has news") % {"code": _display(case.tracking_code)}
                body = "\n\n".join([text, _("See your requests: %(link)s") % {"link": mine},
                                    _("To stop these e-mails, change the setting on your account page.")])
                report.messages += len(notify(
                    topic="portal.request.update", recipients=[EmailAddress(user.email)], subject=subject, body=body,
                    case_number=case.number, channels=(Channel.EMAIL,), webhooks=False,
                    dedup_key_base=f"portal:event:{event.pk}:user:{user.pk}"))
        cursor.last_event_id = events[-1].pk
        cursor.updated_at = clock.now()
        cursor.save(update_fields=["last_event_id", "updated_at"])
    return report


def models_q(case_ids: set[int], grid_codes: set[str]) -> Any:
    from django.db.models import Q

    return Q(case_id__in=case_ids) | Q(grid__code__in=grid_codes)


def _display(code: str | None) -> str:
    from fengqiao.cases.numbering import tracking_code_display

    return tracking_code_display(code)
