"""Every read of dispute mediation that a user sees, scoped by the actor (DESIGN §6).

Scope: a centre (MANAGE_DISPUTES) sees the disputes in its area; a mediator (MEDIATE) sees the
disputes assigned to them. Anything else is "not found". Party data leaves here masked; the full
view is a logged service (services.party_contacts_reveal). A party without an account sees their
own dispute through `dispute_for_party` (access code + last 4 digits of their phone).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from fengqiao.core import clock
from fengqiao.core.errors import InvalidInput, NotFound
from fengqiao.core.masking import mask_address, mask_id_number, mask_name, mask_phone
from fengqiao.mediation import matching
from fengqiao.mediation.models import (
    Agreement,
    AgreementState,
    Dispute,
    DisputeEvent,
    DisputeType,
    FollowUp,
    FollowUpState,
    MediationOrganisation,
    MediationSession,
    Mediator,
    MediatorAbsence,
    Party,
    PartyKind,
    RiskAssessment,
    RiskRule,
    Room,
    SessionState,
    SignerKind,
)
from fengqiao.mediation.states import OPEN_STATES, TRANSITIONS, DisputeAction, DisputeState, may_act
from fengqiao.org.permissions import Action, permissions_for

S = DisputeState
A = DisputeAction
LIST_RELATED = ("type", "region", "grid", "mediator", "organisation")


def _actor_id(actor: Any) -> int:
    """The actor's user id, or 0 (no user has it) for an anonymous actor."""
    return int(getattr(actor, "pk", None) or 0)


# -- scope ------------------------------------------------------------------------------------------------
def dispute_scope_q(actor: Any) -> Q | None:
    """Disputes `actor` may see: the centre's area, and those assigned to the actor as mediator.
    None: everything (superuser)."""
    perms = permissions_for(actor)
    centre = perms.scope_q(Action.MANAGE_DISPUTES, area_field="area_code")
    if centre is None:
        return None
    mediate = perms.scope_q(Action.MEDIATE, area_field="area_code")
    own = Q(mediator__user_id=_actor_id(actor)) & (mediate if mediate is not None else Q())
    return centre | own


def disputes_visible_to(actor: Any) -> QuerySet[Dispute]:
    q = dispute_scope_q(actor)
    qs = Dispute.objects.all()
    return qs if q is None else qs.filter(q)


def dispute_get(*, actor: Any, number: str) -> Dispute:
    """The dispute, if `actor` may see it; otherwise NotFound (never "forbidden")."""
    dispute = disputes_visible_to(actor).select_related(*LIST_RELATED, "mediator__user").filter(number=number).first()
    if dispute is None:
        raise NotFound("not_found", _("No such dispute."))
    return dispute


# -- lists ------------------------------------------------------------------------------------------------
@dataclass
class DisputeFilters:
    states: list[str] | None = None
    type: str | None = None  # type code (and its subtypes)
    area: str | None = None  # region or grid code prefix
    risk: str | None = None
    level: str | None = None
    mediator: int | None = None
    mine: bool = False  # assigned to the actor as mediator
    open_only: bool = False
    overdue: bool | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    text: str | None = None  # number or summary


@dataclass
class Page:
    items: list[Dispute]
    next_cursor: str | None


def _encode_cursor(dispute: Dispute) -> str:
    return base64.urlsafe_b64encode(f"{dispute.created_at.isoformat()}|{dispute.pk}".encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        at_text, pk_text = text.rsplit("|", 1)
        at = parse_datetime(at_text)
        if at is None:
            raise ValueError(cursor)
        return at, int(pk_text)
    except (ValueError, UnicodeError):
        raise InvalidInput("invalid_cursor", _("The cursor is not valid."), field="cursor") from None


def dispute_list(*, actor: Any, filters: DisputeFilters | None = None, cursor: str | None = None,
                 limit: int = 50) -> Page:
    """Newest first, within scope, filtered; keyset-paginated (`next_cursor`)."""
    f = filters or DisputeFilters()
    qs = disputes_visible_to(actor).select_related(*LIST_RELATED)
    if f.states:
        qs = qs.filter(state__in=f.states)
    if f.open_only:
        qs = qs.filter(state__in=OPEN_STATES)
    if f.type:
        qs = qs.filter(Q(type__code=f.type) | Q(type__parent__code=f.type))
    if f.area:
        qs = qs.filter(area_code__startswith=f.area)
    if f.risk:
        qs = qs.filter(risk_level=f.risk)
    if f.level:
        qs = qs.filter(level=f.level)
    if f.mediator:
        qs = qs.filter(mediator_id=f.mediator)
    if f.mine:
        qs = qs.filter(mediator__user_id=_actor_id(actor))
    if f.overdue is not None:
        late = _overdue_q(clock.now())
        qs = qs.filter(late) if f.overdue else qs.exclude(late)
    if f.created_from:
        qs = qs.filter(created_at__gte=f.created_from)
    if f.created_to:
        qs = qs.filter(created_at__lt=f.created_to)
    if f.text:
        qs = qs.filter(Q(number__icontains=f.text) | Q(title__icontains=f.text))
    if cursor:
        at, pk = _decode_cursor(cursor)
        qs = qs.filter(Q(created_at__lt=at) | Q(created_at=at, pk__lt=pk))
    limit = max(1, min(limit, 200))
    items = list(qs.order_by("-created_at", "-pk")[: limit + 1])
    more = len(items) > limit
    items = items[:limit]
    return Page(items=items, next_cursor=_encode_cursor(items[-1]) if more and items else None)


def _overdue_q(now: datetime) -> Q:
    return (Q(state__in=[S.REGISTERED, S.ASSESSED], assign_due_at__lt=now)
            | Q(state=S.ASSIGNED, session_due_at__lt=now)
            | Q(state__in=[S.ASSIGNED, S.IN_MEDIATION, S.AGREED], conclude_due_at__lt=now))


def centre_queue(*, actor: Any) -> dict[str, list[Dispute]]:
    """The centre desk: disputes waiting for a risk assessment, for a mediator, asking for another
    mediator, failed (to refer or reopen), and with follow-ups not performed."""
    qs = Dispute.objects.filter(dispute_scope_q_centre(actor)).select_related(*LIST_RELATED)
    not_performed = FollowUp.objects.filter(result="not_performed").values("dispute_id")
    return {
        "to_assess": list(qs.filter(state=S.REGISTERED).order_by("created_at")[:100]),
        "to_assign": list(qs.filter(state=S.ASSESSED).order_by("assign_due_at", "created_at")[:100]),
        "replace_requested": list(qs.filter(state__in=[S.ASSIGNED, S.IN_MEDIATION],
                                            refusals__mediator_id=F("mediator_id")).distinct()[:100]),
        "failed": list(qs.filter(state=S.FAILED).order_by("ended_at")[:100]),
        "not_performed": list(qs.filter(state=S.EFFECTIVE, pk__in=not_performed).order_by("settled_at")[:100]),
        "high_risk": list(qs.filter(state__in=OPEN_STATES, risk_level="high").order_by("created_at")[:100]),
    }


def dispute_scope_q_centre(actor: Any) -> Q:
    q = permissions_for(actor).scope_q(Action.MANAGE_DISPUTES, area_field="area_code")
    return Q() if q is None else q


def mediator_for_user(*, actor: Any) -> Mediator | None:
    return Mediator.objects.select_related("organisation", "region").filter(user_id=_actor_id(actor)).first()


def my_disputes(*, actor: Any, open_only: bool = True) -> list[Dispute]:
    """The mediator's workspace: disputes assigned to the actor (open first, by deadline)."""
    qs = disputes_visible_to(actor).filter(mediator__user_id=_actor_id(actor)).select_related(*LIST_RELATED)
    if open_only:
        qs = qs.filter(state__in=[S.ASSIGNED, S.IN_MEDIATION, S.AGREED, S.EFFECTIVE])
    return list(qs.order_by("conclude_due_at", "-created_at")[:500])


def mediator_calendar(*, actor: Any, start: datetime, end: datetime, mediator: Mediator | None = None
                      ) -> list[MediationSession]:
    """Sessions between `start` and `end`: the actor's own, or (for a centre) one mediator's."""
    if end <= start or end - start > timedelta(days=400):
        raise InvalidInput("invalid_range", _("Choose a period of at most 400 days."), field="end")
    qs = MediationSession.objects.filter(starts_at__lt=end, ends_at__gt=start).select_related(
        "dispute", "dispute__type", "room", "mediator")
    if mediator is None:
        qs = qs.filter(mediator__user_id=_actor_id(actor))
    else:
        perms = permissions_for(actor)
        if mediator.user_id != _actor_id(actor) and not perms.can(
                Action.MANAGE_DISPUTES, mediator.organisation.region):
            raise NotFound("not_found", _("No such mediator."))
        qs = qs.filter(mediator=mediator)
    return list(qs.order_by("starts_at"))


# -- one dispute ------------------------------------------------------------------------------------------
def dispute_timeline(*, dispute: Dispute, public_only: bool = False) -> list[DisputeEvent]:
    events = dispute.events.select_related("actor").order_by("seq")
    return list(events.filter(is_public=True) if public_only else events)


@dataclass
class PartyOut:
    id: int
    role: str
    role_label: str
    kind: str
    name: str  # masked unless full
    phone: str
    id_number: str
    address: str
    has_phone: bool
    has_access_code: bool
    rating: int | None
    masked: bool = True


def _party_out(party: Party, *, full: bool) -> PartyOut:
    org = party.kind == PartyKind.ORGANISATION
    return PartyOut(
        id=party.pk, role=party.role, role_label=party.get_role_display(), kind=party.kind,
        name=party.name if full or org else mask_name(party.name),
        phone=party.phone if full else mask_phone(party.phone),
        id_number=party.id_number if full else mask_id_number(party.id_number),
        address=party.address if full else mask_address(party.address),
        has_phone=bool(party.phone), has_access_code=bool(party.access_code_index), rating=party.rating,
        masked=not full)


def dispute_parties(*, actor: Any, dispute: Dispute) -> list[PartyOut]:
    """The parties, masked (names of organisations are not personal data and stay whole). The full
    view is services.party_contacts_reveal, which logs it."""
    dispute_get(actor=actor, number=dispute.number)
    return [_party_out(p, full=False) for p in dispute.parties.all()]


def allowed_actions(*, actor: Any, dispute: Dispute) -> list[DisputeAction]:
    """The actions the actor may take on the dispute now (for the pages and the API)."""
    perms = permissions_for(actor)
    found = []
    for action, transition in TRANSITIONS.items():
        if not transition.permissions or dispute.state not in transition.sources:
            continue
        if may_act(perms, dispute, action, actor):
            found.append(action)
    return found


def latest_assessment(*, dispute: Dispute) -> RiskAssessment | None:
    return dispute.assessments.order_by("-assessed_at", "-pk").first()


def risk_checklist() -> list[RiskRule]:
    """The active checklist items, in order (for the assessment form)."""
    return list(RiskRule.objects.filter(is_active=True).order_by("order", "code"))


def dispute_types() -> list[DisputeType]:
    """Active types, parents before their children (for pickers)."""
    types = list(DisputeType.objects.filter(is_active=True).order_by("order", "code"))
    roots = [t for t in types if t.parent_id is None]
    out = []
    for root in roots:
        out.append(root)
        out.extend(t for t in types if t.parent_id == root.pk)
    return out


def dispute_sessions(*, dispute: Dispute) -> list[MediationSession]:
    return list(dispute.sessions.select_related("room", "mediator").prefetch_related("attendance").order_by(
        "starts_at"))


def current_agreement(*, dispute: Dispute) -> Agreement | None:
    return dispute.agreements.exclude(state=AgreementState.VOID).order_by("-revision").first()


@dataclass
class SignatureOut:
    kind: str
    label: str  # "applicant", "respondent" or "mediator", with a masked name
    signed_at: datetime | None
    party_id: int | None = None


def signing_state(*, agreement: Agreement) -> list[SignatureOut]:
    """Who has signed the current text and who has not yet: one row per party and the mediator."""
    valid = {(s.kind, s.party_id): s for s in agreement.signatures.filter(voided_at__isnull=True)}
    rows = []
    for party in agreement.dispute.parties.all():
        signed = valid.get((SignerKind.PARTY, party.pk))
        name = party.name if party.kind == PartyKind.ORGANISATION else mask_name(party.name)
        rows.append(SignatureOut(SignerKind.PARTY, f"{party.get_role_display()} {name}",
                                 signed.signed_at if signed else None, party.pk))
    mediator = valid.get((SignerKind.MEDIATOR, None))
    name = agreement.dispute.mediator.display_name if agreement.dispute.mediator is not None else ""
    rows.append(SignatureOut(SignerKind.MEDIATOR, f"{SignerKind.MEDIATOR.label} {name}".strip(),
                             mediator.signed_at if mediator else None))
    return rows


def agreement_get(*, actor: Any, agreement_id: int) -> Agreement:
    agreement = Agreement.objects.select_related("dispute").filter(pk=agreement_id).first()
    if agreement is None:
        raise NotFound("not_found", _("No such agreement."))
    dispute_get(actor=actor, number=agreement.dispute.number)
    return agreement


def agreement_pdf(*, actor: Any, agreement_id: int) -> tuple[bytes, str]:
    """The agreement's exact PDF and its file name (the bytes whose SHA-256 is the hash)."""
    agreement = agreement_get(actor=actor, agreement_id=agreement_id)
    return agreement.pdf_bytes, f"{agreement.dispute.number}-r{agreement.revision}.pdf"


def follow_ups(*, dispute: Dispute) -> list[FollowUp]:
    return list(dispute.follow_ups.order_by("due_at"))


def due_follow_ups(*, actor: Any, until: datetime | None = None) -> list[FollowUp]:
    """Scheduled follow-up visits due by `until` (default: now) on disputes the actor sees."""
    until = until or clock.now()
    q = dispute_scope_q(actor)
    qs = FollowUp.objects.filter(state=FollowUpState.SCHEDULED, due_at__lte=until).select_related("dispute")
    if q is not None:
        qs = qs.filter(dispute__in=Dispute.objects.filter(q))
    return list(qs.order_by("due_at")[:200])


# -- matching ------------------------------------------------------------------------------------------------
def _candidates(dispute: Dispute, at: datetime | None, until: datetime | None) -> list[matching.Candidate]:
    mediators = (Mediator.objects.filter(user__is_active=True, organisation__is_active=True)
                 .select_related("organisation", "region", "user").prefetch_related("specialties",
                                                                                     "organisation__specialties",
                                                                                     "links")
                 .annotate(load=Count("disputes", filter=Q(disputes__state__in=[S.ASSIGNED, S.IN_MEDIATION,
                                                                                 S.AGREED]))))
    out = []
    for m in mediators:
        if not permissions_for(m.user).can(Action.MEDIATE, dispute):
            continue  # does not mediate in this area
        busy = False
        day_sessions = 0
        if at is not None and until is not None:
            busy = MediationSession.objects.filter(mediator=m, state=SessionState.SCHEDULED, starts_at__lt=until,
                                                   ends_at__gt=at).exists() or MediatorAbsence.objects.filter(
                mediator=m, starts_at__lt=until, ends_at__gt=at).exists()
            local = timezone.localtime(at)
            start = local.replace(hour=0, minute=0, second=0, microsecond=0)
            day_sessions = MediationSession.objects.filter(mediator=m, state=SessionState.SCHEDULED,
                                                           starts_at__gte=start,
                                                           starts_at__lt=start + timedelta(days=1)).count()
        links: set[str] = set()
        for link in m.links.all():
            links |= {i for i in (link.phone_index, link.id_number_index) if i}
        out.append(matching.Candidate(
            id=m.pk, name=m.display_name, specialties=frozenset(t.code for t in m.specialties.all()),
            organisation_specialties=frozenset(t.code for t in m.organisation.specialties.all()),
            area_code=m.region.code, open_load=m.load, capacity=m.capacity, is_available=m.is_available,
            languages=matching.languages_of(m.languages), phone_index=m.phone_index,
            id_number_index=m.id_number_index, link_indexes=frozenset(links), busy_at_time=busy,
            sessions_that_day=day_sessions))
    return out


@dataclass
class Proposals:
    result: matching.MatchResult
    mediators: dict[int, Mediator] = field(default_factory=dict)


def match_mediators(*, actor: Any, number: str, at: datetime | None = None, duration_minutes: int = 90,
                    languages: str = "", limit: int = 3) -> Proposals:
    """The best `limit` mediators for the dispute (see matching.py for the score), those left out
    and why (conflict of interest, refused by a party, unavailable, busy at `at`, full)."""
    dispute = dispute_get(actor=actor, number=number)
    if not permissions_for(actor).can(Action.MANAGE_DISPUTES, dispute):
        raise NotFound("not_found", _("No such dispute."))
    until = at + timedelta(minutes=duration_minutes) if at is not None else None
    indexes: set[str] = set()
    for phone_index, id_index in dispute.parties.values_list("phone_index", "id_number_index"):
        indexes |= {i for i in (phone_index, id_index) if i}
    request = matching.MatchRequest(
        type_code=dispute.type.code, parent_type_code=dispute.type.parent.code if dispute.type.parent is not None else "",
        area_code=dispute.area_code, party_indexes=frozenset(indexes),
        refused_ids=frozenset(dispute.refusals.values_list("mediator_id", flat=True)),
        languages=matching.languages_of(languages), at=at)
    candidates = _candidates(dispute, at, until)
    result = matching.rank(candidates, request, limit=limit)
    mediators = Mediator.objects.in_bulk([c.id for c in candidates])
    return Proposals(result=result, mediators=mediators)


def mediators_list(*, actor: Any) -> list[Mediator]:
    """Mediators of the organisations in the centre's area, with their open load."""
    q = permissions_for(actor).scope_q(Action.MANAGE_DISPUTES, area_field="organisation__region__code")
    qs = Mediator.objects.select_related("organisation", "region").prefetch_related("specialties").annotate(
        load=Count("disputes", filter=Q(disputes__state__in=[S.ASSIGNED, S.IN_MEDIATION, S.AGREED])))
    return list(qs if q is None else qs.filter(q))


def organisations_list(*, actor: Any) -> list[MediationOrganisation]:
    q = permissions_for(actor).scope_q(Action.MANAGE_DISPUTES, area_field="region__code")
    qs = MediationOrganisation.objects.filter(is_active=True).select_related("region")
    return list(qs if q is None else qs.filter(q))


def rooms_for(*, dispute: Dispute) -> list[Room]:
    if dispute.organisation_id is None:
        return []
    return list(Room.objects.filter(organisation_id=dispute.organisation_id, is_active=True))


# -- iCalendar ---------------------------------------------------------------------------------------------
def session_ics(*, actor: Any, session_id: int) -> bytes:
    """The session as an iCalendar file, for the mediator and the centre."""
    from fengqiao.mediation.ics import session_calendar

    session = MediationSession.objects.select_related("dispute", "room", "mediator").filter(pk=session_id).first()
    if session is None:
        raise NotFound("not_found", _("No such session."))
    dispute_get(actor=actor, number=session.dispute.number)
    return session_calendar(session)


def session_ics_for_party(*, code: str, phone_last4: str, session_id: int) -> bytes:
    from fengqiao.mediation.ics import session_calendar
    from fengqiao.mediation.services import PartyCredentials, party_by_credentials

    party = party_by_credentials(PartyCredentials(code=code, phone_last4=phone_last4))
    session = MediationSession.objects.select_related("dispute", "room", "mediator").filter(
        pk=session_id, dispute_id=party.dispute_id).first()
    if session is None:
        raise NotFound("not_found", _("No such session."))
    return session_calendar(session)


# -- the party's view ---------------------------------------------------------------------------------------
@dataclass
class OtherParty:
    role: str
    role_label: str
    name: str  # masked for persons; never any contact data


@dataclass
class PartyView:
    """What one party sees of their dispute: their own contact data, the other parties' masked
    names (no contact data at all), public events, sessions, the agreement and its signing state."""

    party_id: int
    number: str
    state: str
    state_label: str
    type_name: str
    title: str
    facts: str
    claims: str
    created_at: datetime
    organisation: str
    mediator: str
    role: str
    role_label: str
    name: str
    phone: str
    address: str
    others: list[OtherParty]
    events: list[DisputeEvent]
    sessions: list[MediationSession]
    agreement: Agreement | None
    signatures: list[SignatureOut]
    i_signed: bool
    can_sign: bool
    can_rate: bool
    can_ask_for_another: bool
    rating: int | None
    confirmation_deadline: date | None
    follow_ups: list[FollowUp]


def dispute_for_party(*, code: str, phone_last4: str) -> PartyView:
    """The dispute of the party holding `code`, checked against the last 4 digits of their phone.
    NotFound (the same answer whichever is wrong) otherwise."""
    from fengqiao.mediation.services import PartyCredentials, party_by_credentials

    party = party_by_credentials(PartyCredentials(code=code, phone_last4=phone_last4))
    dispute = Dispute.objects.select_related("type", "organisation", "mediator").get(pk=party.dispute_id)
    others = [OtherParty(role=p.role, role_label=p.get_role_display(),
                         name=p.name if p.kind == PartyKind.ORGANISATION else mask_name(p.name))
              for p in dispute.parties.exclude(pk=party.pk)]
    agreement = current_agreement(dispute=dispute)
    signatures = signing_state(agreement=agreement) if agreement else []
    i_signed = any(s.party_id == party.pk and s.signed_at for s in signatures)
    return PartyView(
        party_id=party.pk, number=dispute.number, state=dispute.state, state_label=dispute.get_state_display(),
        type_name=dispute.type.name, title=dispute.title, facts=dispute.facts, claims=dispute.claims,
        created_at=dispute.created_at, organisation=dispute.organisation.name if dispute.organisation is not None else "",
        mediator=dispute.mediator.display_name if dispute.mediator is not None else "", role=party.role,
        role_label=party.get_role_display(), name=party.name, phone=party.phone, address=party.address,
        others=others, events=dispute_timeline(dispute=dispute, public_only=True),
        sessions=[s for s in dispute_sessions(dispute=dispute) if s.state != SessionState.CANCELLED],
        agreement=agreement, signatures=signatures, i_signed=i_signed,
        can_sign=bool(agreement and agreement.state == AgreementState.DRAFT and dispute.state == S.AGREED
                      and not i_signed),
        can_rate=dispute.state in TRANSITIONS[A.RATE].sources and party.rating is None,
        can_ask_for_another=dispute.state in TRANSITIONS[A.ASK_FOR_ANOTHER].sources and dispute.mediator_id is not None,
        rating=party.rating,
        confirmation_deadline=agreement.confirmation_deadline if agreement else None,
        follow_ups=[f for f in dispute.follow_ups.order_by("due_at") if f.state != FollowUpState.CANCELLED],
    )


def party_agreement_pdf(*, code: str, phone_last4: str) -> tuple[bytes, str, str]:
    """The current agreement's exact PDF for a party: (bytes, file name, hash)."""
    from fengqiao.mediation.services import PartyCredentials, party_by_credentials

    party = party_by_credentials(PartyCredentials(code=code, phone_last4=phone_last4))
    agreement = current_agreement(dispute=party.dispute)
    if agreement is None:
        raise NotFound("not_found", _("There is no agreement yet."))
    return agreement.pdf_bytes, f"{party.dispute.number}-r{agreement.revision}.pdf", agreement.pdf_hash


def mediation_statistics(**kwargs: Any):
    """See fengqiao.mediation.stats.mediation_statistics."""
    from fengqiao.mediation.stats import mediation_statistics as compute

    return compute(**kwargs)
