"""What parties do with their access code, and the logged full view of their contact data."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from fengqiao.core import clock
from fengqiao.core.errors import (
    Conflict,
    ErrorDetail,
    Forbidden,
    NotFound,
    TransitionNotAllowed,
)
from fengqiao.mediation.events import append_event
from fengqiao.mediation.models import (
    Dispute,
    Party,
)
from fengqiao.mediation.services.common import (
    REASON_MAX,
    A,
    PartyContact,
    PartyCredentials,
    _check,
    _invalid,
    _issue_code,
    _load_for_update,
    _raise,
    _text,
    _visible,
    party_by_credentials,
)
from fengqiao.mediation.states import TRANSITIONS
from fengqiao.org.permissions import Action, permissions_for


# -- parties -------------------------------------------------------------------------------------------------
@transaction.atomic
def party_rate(*, credentials: PartyCredentials, rating: int, comment: str = "") -> Party:
    """A party rates the mediation (1–5) once it has ended (settled, failed or referred)."""
    party = party_by_credentials(credentials)
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise _invalid("rating", "out_of_range", _("A rating is a whole number from 1 to 5."))
    errors: list[ErrorDetail] = []
    comment = _text(errors, "comment", comment, limit=REASON_MAX)
    _raise(errors)
    dispute = _load_for_update(party.dispute.number)
    party = Party.objects.select_for_update().get(pk=party.pk)
    if dispute.state not in TRANSITIONS[A.RATE].sources:
        raise TransitionNotAllowed("not_rateable", _("You can rate the mediation once it has ended."))
    if party.rating is not None:
        raise Conflict("already_rated", _("You have already rated this mediation."))
    now = clock.now()
    party.rating, party.rating_comment, party.rated_at = rating, comment, now
    party.save()
    dispute.version += 1
    dispute.updated_at = now
    append_event(dispute=dispute, action=A.RATE, actor=f"party:{party.get_role_display()}", from_state=dispute.state,
                 to_state=dispute.state, now=now, payload={"party": party.pk, "rating": rating}, is_public=False)
    dispute.save()
    return party


@transaction.atomic
def party_issue_access_code(*, actor: Any, number: str, party_id: int) -> str:
    """A new access code for a party (the old one stops working); returned once, to hand over."""
    dispute = _load_for_update(number)
    _check(dispute, actor, A.ACCESS_CODE, None, "")
    party = Party.objects.select_for_update().filter(pk=party_id, dispute=dispute).first()
    if party is None:
        raise NotFound("not_found", _("No such party."))
    if not party.phone:
        raise _invalid("phone", "phone_required", _("A party needs a phone number to use the resident portal."))
    now = clock.now()
    code = _issue_code(party, now)
    party.save()
    append_event(dispute=dispute, action=A.ACCESS_CODE, actor=actor, from_state=dispute.state, to_state=dispute.state,
                 now=now, payload={"party": party.pk}, is_public=False)
    dispute.updated_at = now
    dispute.save()
    return code


def party_contacts_reveal(*, actor: Any, number: str, reason: str) -> list[PartyContact]:
    """The parties' contact data in full, for a centre with VIEW_PERSONAL_DATA or the assigned
    mediator, with the reason logged (core.PersonalDataAccess)."""
    from fengqiao.core.models import PersonalDataAccess

    dispute = Dispute.objects.select_related("mediator").filter(number=number).first()
    perms = permissions_for(actor)
    if dispute is None or not _visible(perms, actor, dispute):
        raise NotFound("not_found", _("No such dispute."))
    is_mediator = dispute.mediator is not None and dispute.mediator.user_id == getattr(actor, "pk", None)
    if not perms.can(Action.VIEW_PERSONAL_DATA, dispute) and not is_mediator:
        raise Forbidden("forbidden", _("Your role does not see the parties' contact data."))
    errors: list[ErrorDetail] = []
    reason = _text(errors, "reason", reason, required=True, limit=300,
                   message=_("Say why you need the parties' contact data."))
    _raise(errors)
    PersonalDataAccess.objects.create(actor=actor, subject=f"dispute {dispute.number}",
                                      fields="parties: name,phone,id_number,address,representative", reason=reason,
                                      at=clock.now())
    return [PartyContact(id=p.pk, role=p.role, kind=p.kind, name=p.name, phone=p.phone, id_number=p.id_number,
                         address=p.address, representative=p.representative) for p in dispute.parties.all()]
