"""Mediators: conflicts of interest, assignment and replacement, profiles, declared links, absences."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from fengqiao.core import clock
from fengqiao.core.crypto import blind_index
from fengqiao.core.errors import (
    Conflict,
    ErrorDetail,
    NotFound,
    TransitionNotAllowed,
)
from fengqiao.geo.models import Region
from fengqiao.mediation.events import append_event
from fengqiao.mediation.models import (
    Dispute,
    DisputeType,
    MediationOrganisation,
    Mediator,
    MediatorAbsence,
    MediatorLink,
    MediatorRefusal,
)
from fengqiao.mediation.services.common import (
    NAME_MAX,
    REASON_MAX,
    TEXT_MAX,
    A,
    PartyCredentials,
    S,
    _cancel_open_sessions,
    _invalid,
    _load_for_update,
    _notify,
    _phone_ok,
    _raise,
    _recompute_deadlines,
    _text,
    _transition,
    party_by_credentials,
)
from fengqiao.mediation.states import TRANSITIONS
from fengqiao.org.models import Role
from fengqiao.org.permissions import Action, Target, permissions_for


# -- mediators and assignment -------------------------------------------------------------------------------
def _open_load(mediator: Mediator) -> int:
    return Dispute.objects.filter(mediator=mediator, state__in=[S.ASSIGNED, S.IN_MEDIATION, S.AGREED]).count()


def _party_indexes(dispute: Dispute) -> set[str]:
    found: set[str] = set()
    for phone_index, id_index in dispute.parties.values_list("phone_index", "id_number_index"):
        found |= {i for i in (phone_index, id_index) if i}
    return found


def mediator_conflicts(*, mediator: Mediator, dispute: Dispute) -> bool:
    """Whether `mediator` is a party or declared a link to one (same phone or ID blind index)."""
    parties = _party_indexes(dispute)
    own = {i for i in (mediator.phone_index, mediator.id_number_index) if i}
    links = set()
    for phone_index, id_index in mediator.links.values_list("phone_index", "id_number_index"):
        links |= {i for i in (phone_index, id_index) if i}
    return bool((own | links) & parties)


def _check_mediator(dispute: Dispute, mediator: Mediator, field_name: str = "mediator") -> None:
    if mediator_conflicts(mediator=mediator, dispute=dispute):
        raise Conflict("conflict_of_interest", _("%(name)s is linked to a party of this dispute and may not mediate "
                                                 "it.") % {"name": mediator.display_name}, field=field_name)
    if MediatorRefusal.objects.filter(dispute=dispute, mediator=mediator).exists():
        raise Conflict("mediator_refused", _("A party asked for another mediator than %(name)s.")
                       % {"name": mediator.display_name}, field=field_name)
    if not mediator.is_available:
        raise Conflict("mediator_unavailable", _("%(name)s is not available.") % {"name": mediator.display_name},
                       field=field_name)
    if not permissions_for(mediator.user).can(Action.MEDIATE, dispute) or not mediator.user.is_active:
        raise _invalid(field_name, "mediator_out_of_area",
                       _("%(name)s does not mediate in this area.") % {"name": mediator.display_name})
    if _open_load(mediator) >= mediator.capacity:
        raise Conflict("mediator_full", _("%(name)s already has %(n)d open disputes.")
                       % {"name": mediator.display_name, "n": mediator.capacity}, field=field_name)


def dispute_assign(*, actor: Any, number: str, mediator: Mediator, expected_version: int | None = None,
                   reason: str = "") -> Dispute:
    """The centre assigns a mediator (see selectors.match_mediators for proposals). Refused with a
    clear error: a conflict of interest, a mediator a party refused, unavailable, out of area, full."""

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        Mediator.objects.select_for_update().filter(pk=mediator.pk).first()  # serialise loads of this mediator
        _check_mediator(dispute, mediator)
        dispute.mediator, dispute.organisation = mediator, mediator.organisation
        dispute.level = mediator.organisation.level
        dispute.assigned_at = now
        _recompute_deadlines(dispute)
        return {"mediator": mediator.pk, "mediator_name": mediator.display_name,
                "organisation": mediator.organisation.code, "level": dispute.level}

    def after(dispute: Dispute, event: Any) -> None:
        _notify(dispute, "dispute.assigned", event.seq)

    return _transition(actor=actor, number=number, action=A.ASSIGN, expected_version=expected_version,
                       reason=reason, apply=apply, after=after)


def dispute_replace_mediator(*, actor: Any, number: str, mediator: Mediator, reason: str,
                             expected_version: int | None = None) -> Dispute:
    """Another mediator (a party asked, or the first cannot go on): the former one is kept out of
    this dispute's matching, and their scheduled sessions are cancelled."""

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        former = dispute.mediator
        if former is not None and former.pk == mediator.pk:
            raise _invalid("mediator", "same_mediator", _("Choose another mediator than the current one."))
        Mediator.objects.select_for_update().filter(pk=mediator.pk).first()
        _check_mediator(dispute, mediator)
        cancelled: list[int] = []
        if former is not None:
            MediatorRefusal.objects.get_or_create(dispute=dispute, mediator=former,
                                                  defaults={"reason": reason.strip(), "created_at": now})
            cancelled = _cancel_open_sessions(dispute, now, reason, mediator=former)
        dispute.mediator, dispute.organisation = mediator, mediator.organisation
        dispute.level = mediator.organisation.level
        return {"from": former.pk if former else None, "to": mediator.pk, "mediator_name": mediator.display_name,
                "cancelled_sessions": cancelled}

    def after(dispute: Dispute, event: Any) -> None:
        _notify(dispute, "dispute.assigned", event.seq)

    return _transition(actor=actor, number=number, action=A.REPLACE_MEDIATOR, expected_version=expected_version,
                       reason=reason, apply=apply, after=after)


@transaction.atomic
def party_ask_for_another(*, credentials: PartyCredentials, reason: str) -> Dispute:
    """A party asks for another mediator: the current one is kept out of this dispute's matching
    and the centre is told to choose again (the assignment stays until it does)."""
    party = party_by_credentials(credentials)
    errors: list[ErrorDetail] = []
    reason = _text(errors, "reason", reason, required=True, limit=REASON_MAX, message=_("Say why."))
    _raise(errors)
    dispute = _load_for_update(party.dispute.number)
    if dispute.state not in TRANSITIONS[A.ASK_FOR_ANOTHER].sources or dispute.mediator is None:
        raise TransitionNotAllowed("transition_not_allowed", _("There is no mediator to replace now."))
    now = clock.now()
    MediatorRefusal.objects.get_or_create(dispute=dispute, mediator=dispute.mediator,
                                          defaults={"reason": reason, "created_at": now})
    dispute.version += 1
    dispute.updated_at = now
    event = append_event(dispute=dispute, action=A.ASK_FOR_ANOTHER, actor=f"party:{party.get_role_display()}",
                         from_state=dispute.state, to_state=dispute.state, reason=reason,
                         payload={"party": party.pk, "mediator": dispute.mediator_id}, now=now, is_public=False)
    dispute.save()
    _notify(dispute, "dispute.replace_requested", event.seq)
    return dispute


# -- mediator profiles ------------------------------------------------------------------------------------
def _manage_org(actor: Any, organisation: MediationOrganisation) -> None:
    perms = permissions_for(actor)
    if not perms.can(Action.MANAGE_DISPUTES, Target(area_code=organisation.region.code)):
        raise NotFound("not_found", _("No such organisation."))


@transaction.atomic
def mediator_save(
    *, actor: Any, user: Any, organisation: MediationOrganisation, region: Region, display_name: str = "",
    specialties: Sequence[DisputeType] = (), languages: str = "", capacity: int = 8, is_available: bool = True,
    bio: str = "", phone: str = "", id_number: str = "",
) -> Mediator:
    """Create or update a mediator's profile. The user must hold an active mediator assignment.
    The phone and ID number are kept only as blind indexes, for conflict-of-interest checks."""
    _manage_org(actor, organisation)
    errors: list[ErrorDetail] = []
    if not user.assignments.filter(role=Role.MEDIATOR, is_active=True).exists():
        errors.append(ErrorDetail("not_a_mediator", _("This user has no mediator assignment."), "user"))
    profile = getattr(user, "staff_profile", None)
    display_name = _text(errors, "display_name", display_name or (profile.display_name if profile else ""),
                         required=True, limit=NAME_MAX)
    languages = _text(errors, "languages", languages, limit=200)
    bio = _text(errors, "bio", bio, limit=TEXT_MAX)
    if not isinstance(capacity, int) or not 1 <= capacity <= 200:
        errors.append(ErrorDetail("out_of_range", _("Capacity is a whole number from 1 to 200."), "capacity"))
    if phone and not _phone_ok(phone):
        errors.append(ErrorDetail("invalid_phone", _("This is not a phone number."), "phone"))
    _raise(errors)
    mediator = Mediator.objects.select_for_update().filter(user=user).first() or Mediator(user=user)
    mediator.display_name, mediator.organisation, mediator.region = display_name, organisation, region
    mediator.languages, mediator.capacity, mediator.is_available, mediator.bio = languages, capacity, is_available, bio
    phone = phone or (profile.phone if profile else "")
    mediator.phone_index = blind_index(phone, "phone") if phone else ""
    if id_number:
        mediator.id_number_index = blind_index(id_number, "id_number")
    mediator.save()
    mediator.specialties.set(specialties)
    return mediator


@transaction.atomic
def mediator_declare_link(*, actor: Any, mediator: Mediator, relation: str, name: str = "", phone: str = "",
                          id_number: str = "") -> MediatorLink:
    """A mediator (for themselves) or the centre declares a person or organisation the mediator is
    linked to; matching and assignment then keep the mediator away from disputes with that party."""
    if getattr(actor, "pk", None) != mediator.user_id:
        _manage_org(actor, mediator.organisation)
    errors: list[ErrorDetail] = []
    relation = _text(errors, "relation", relation, required=True, limit=100)
    name = _text(errors, "name", name, limit=NAME_MAX)
    if not phone and not id_number:
        errors.append(ErrorDetail("required", _("Give a phone number or an ID number to recognise the person by."),
                                  "phone"))
    if phone and not _phone_ok(phone):
        errors.append(ErrorDetail("invalid_phone", _("This is not a phone number."), "phone"))
    _raise(errors)
    return MediatorLink.objects.create(
        mediator=mediator, relation=relation, name=name,
        phone_index=blind_index(phone, "phone") if phone else "",
        id_number_index=blind_index(id_number, "id_number") if id_number else "", declared_at=clock.now())


@transaction.atomic
def mediator_add_absence(*, actor: Any, mediator: Mediator, starts_at: datetime, ends_at: datetime,
                         note: str = "") -> MediatorAbsence:
    if getattr(actor, "pk", None) != mediator.user_id:
        _manage_org(actor, mediator.organisation)
    if ends_at <= starts_at:
        raise _invalid("ends_at", "ends_before_start", _("The end must come after the start."))
    return MediatorAbsence.objects.create(mediator=mediator, starts_at=starts_at, ends_at=ends_at, note=note[:200])
