"""Mediation sessions: scheduling without double-booking, moving, cancelling, recording."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.core.errors import (
    Conflict,
    ErrorDetail,
    NotFound,
    TransitionNotAllowed,
)
from fengqiao.mediation.models import (
    Dispute,
    MediationSession,
    Mediator,
    MediatorAbsence,
    Room,
    SessionAttendance,
    SessionMode,
    SessionState,
)
from fengqiao.mediation.services.common import (
    SESSION_MAX_HOURS,
    A,
    S,
    _invalid,
    _notify,
    _raise,
    _text,
    _transition,
)


# -- sessions ------------------------------------------------------------------------------------------------
def meeting_link_for(*, dispute: Dispute, session_key: str) -> str:
    """The configured remote meeting link: the organisation's template, else the site's setting
    MEDIATION_MEETING_LINK (environment FENGQIAO_MEDIATION_MEETING_LINK)."""
    from django.conf import settings

    template = (dispute.organisation.meeting_link_template if dispute.organisation is not None else "") or getattr(
        settings, "MEDIATION_MEETING_LINK", "")
    if not template:
        return ""
    return template.replace("{number}", dispute.number).replace("{session}", session_key)


def _check_times(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    errors: list[ErrorDetail] = []
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        errors.append(ErrorDetail("naive_time", _("Give times with their time zone."), "starts_at"))
    elif ends_at <= starts_at:
        errors.append(ErrorDetail("ends_before_start", _("The end must come after the start."), "ends_at"))
    elif ends_at - starts_at > timedelta(hours=SESSION_MAX_HOURS):
        errors.append(ErrorDetail("too_long", _("A session lasts at most %(n)d hours.") % {"n": SESSION_MAX_HOURS},
                                  "ends_at"))
    elif starts_at < now - timedelta(minutes=5):
        errors.append(ErrorDetail("in_the_past", _("A session is scheduled in the future."), "starts_at"))
    _raise(errors)


def _check_free(mediator: Mediator, room: Room | None, starts_at: datetime, ends_at: datetime,
                exclude: int | None = None) -> None:
    """Lock the mediator's (and the room's) row, then refuse an overlap with another session."""
    Mediator.objects.select_for_update().filter(pk=mediator.pk).first()
    overlapping = MediationSession.objects.filter(state=SessionState.SCHEDULED, starts_at__lt=ends_at,
                                                  ends_at__gt=starts_at)
    if exclude is not None:
        overlapping = overlapping.exclude(pk=exclude)
    clash = overlapping.filter(mediator=mediator).select_related("dispute").first()
    if clash is not None:
        raise Conflict("mediator_double_booked", _("%(name)s already has a session from %(start)s to %(end)s.") % {
            "name": mediator.display_name, "start": timezone.localtime(clash.starts_at).strftime("%Y-%m-%d %H:%M"),
            "end": timezone.localtime(clash.ends_at).strftime("%H:%M")}, field="starts_at")
    if MediatorAbsence.objects.filter(mediator=mediator, starts_at__lt=ends_at, ends_at__gt=starts_at).exists():
        raise Conflict("mediator_absent", _("%(name)s is away at that time.") % {"name": mediator.display_name},
                       field="starts_at")
    if room is not None:
        Room.objects.select_for_update().filter(pk=room.pk).first()
        if overlapping.filter(room=room).exists():
            raise Conflict("room_taken", _("The room %(room)s is taken at that time.") % {"room": room.name},
                           field="room")


def _place(dispute: Dispute, mode: str, room: Room | None, place: str, meeting_link: str,
           session_key: str) -> tuple[Room | None, str, str]:
    errors: list[ErrorDetail] = []
    if mode not in SessionMode.values:
        raise _invalid("mode", "invalid_choice", _("Unknown kind of session."))
    place = _text(errors, "place", place, limit=200)
    meeting_link = _text(errors, "meeting_link", meeting_link, limit=300)
    _raise(errors)
    if mode == SessionMode.IN_PERSON:
        if room is not None and (not room.is_active or room.organisation_id != dispute.organisation_id):
            raise _invalid("room", "invalid_room", _("Choose a room of the mediation body."))
        if room is None and not place:
            raise _invalid("room", "required", _("Choose a room or say where the session takes place."))
        return room, place, ""
    link = meeting_link or meeting_link_for(dispute=dispute, session_key=session_key)
    if not link:
        raise _invalid("meeting_link", "required", _("No meeting link is configured: give one."))
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    try:
        URLValidator(schemes=["https", "http"])(link)
    except ValidationError:
        raise _invalid("meeting_link", "invalid_url", _("This is not a web address.")) from None
    return None, "", link


def session_schedule(
    *, actor: Any, number: str, starts_at: datetime, ends_at: datetime, mode: str = SessionMode.IN_PERSON,
    room: Room | None = None, place: str = "", meeting_link: str = "", expected_version: int | None = None,
) -> MediationSession:
    """Schedule a session with the dispute's mediator, in a room (or another place) or remote (the
    configured meeting link). Refused when the mediator (or the room) is booked at an overlapping
    time: the mediator's row is locked while checking. Parties and the mediator are notified; each
    gets the session as an iCalendar file (selectors.session_ics)."""
    created: dict[str, MediationSession] = {}

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        if dispute.mediator is None:
            raise _invalid("mediator", "no_mediator", _("Assign a mediator first."))
        _check_times(starts_at, ends_at, now)
        uid = f"{secrets.token_hex(8)}-{dispute.number}@fengqiao"
        chosen_room, where, link = _place(dispute, mode, room, place, meeting_link, uid[:16])
        _check_free(dispute.mediator, chosen_room, starts_at, ends_at)
        session = MediationSession.objects.create(
            dispute=dispute, mediator=dispute.mediator, mode=mode, room=chosen_room, place=where, meeting_link=link,
            starts_at=starts_at, ends_at=ends_at, uid=uid, created_at=now, updated_at=now)
        created["session"] = session
        if dispute.state == S.ASSIGNED:
            dispute.state = S.IN_MEDIATION
        return {"session": session.pk, "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat(),
                "mode": mode, "room": chosen_room.name if chosen_room else "", "place": where}

    def after(dispute: Dispute, event: Any) -> None:
        _notify(dispute, "dispute.session_scheduled", event.seq, session=created["session"])

    _transition(actor=actor, number=number, action=A.SCHEDULE, expected_version=expected_version, apply=apply,
                after=after)
    return created["session"]


def _session_for(session_id: int) -> MediationSession:
    session = MediationSession.objects.select_related("dispute").filter(pk=session_id).first()
    if session is None:
        raise NotFound("not_found", _("No such session."))
    return session


def session_reschedule(*, actor: Any, session_id: int, starts_at: datetime, ends_at: datetime,
                       room: Room | None = None, place: str | None = None, expected_version: int | None = None,
                       reason: str = "") -> MediationSession:
    """Move a scheduled session (same checks as scheduling); its iCalendar SEQUENCE goes up."""
    session = _session_for(session_id)

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        current = MediationSession.objects.select_for_update().get(pk=session.pk)
        if current.dispute_id != dispute.pk or current.state != SessionState.SCHEDULED:
            raise TransitionNotAllowed("session_not_scheduled", _("Only a scheduled session can be moved."))
        _check_times(starts_at, ends_at, now)
        new_room = room if room is not None else current.room
        new_place = current.place if place is None else place
        if current.mode == SessionMode.IN_PERSON:
            new_room, new_place, _link = _place(dispute, current.mode, new_room, new_place, "", current.uid[:16])
        _check_free(current.mediator, new_room, starts_at, ends_at, exclude=current.pk)
        current.starts_at, current.ends_at, current.room, current.place = starts_at, ends_at, new_room, new_place
        current.sequence += 1
        current.updated_at = now
        current.save()
        session.__dict__.update(current.__dict__)
        return {"session": current.pk, "starts_at": starts_at.isoformat(), "ends_at": ends_at.isoformat()}

    def after(dispute: Dispute, event: Any) -> None:
        _notify(dispute, "dispute.session_moved", event.seq, session=session)

    _transition(actor=actor, number=session.dispute.number, action=A.RESCHEDULE, expected_version=expected_version,
                apply=apply, after=after, reason=reason)
    return session


def session_cancel(*, actor: Any, session_id: int, reason: str, expected_version: int | None = None) -> MediationSession:
    session = _session_for(session_id)

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        current = MediationSession.objects.select_for_update().get(pk=session.pk)
        if current.state != SessionState.SCHEDULED:
            raise TransitionNotAllowed("session_not_scheduled", _("Only a scheduled session can be cancelled."))
        current.state, current.cancel_reason = SessionState.CANCELLED, reason.strip()
        current.sequence += 1
        current.updated_at = now
        current.save()
        session.__dict__.update(current.__dict__)
        return {"session": current.pk}

    def after(dispute: Dispute, event: Any) -> None:
        _notify(dispute, "dispute.session_cancelled", event.seq, session=session)

    _transition(actor=actor, number=session.dispute.number, action=A.CANCEL_SESSION, expected_version=expected_version,
                reason=reason, apply=apply, after=after)
    return session


def session_record(*, actor: Any, session_id: int, attendance: Mapping[int, bool], minutes: str,
                   expected_version: int | None = None) -> MediationSession:
    """The mediator records who came and the minutes, after the session started."""
    session = _session_for(session_id)
    errors: list[ErrorDetail] = []
    minutes = _text(errors, "minutes", minutes, required=True, message=_("Write the minutes."))
    _raise(errors)

    def apply(dispute: Dispute, now: datetime) -> dict[str, Any]:
        current = MediationSession.objects.select_for_update().get(pk=session.pk)
        if current.state == SessionState.CANCELLED:
            raise TransitionNotAllowed("session_cancelled", _("This session was cancelled."))
        if current.starts_at > now:
            raise _invalid("session", "not_started", _("A session is recorded once it has started."))
        party_ids = set(dispute.parties.values_list("pk", flat=True))
        unknown = set(attendance) - party_ids
        if unknown:
            raise _invalid("attendance", "unknown_party", _("Attendance names someone who is not a party."))
        for party_id in party_ids:
            SessionAttendance.objects.update_or_create(session=current, party_id=party_id,
                                                       defaults={"present": bool(attendance.get(party_id, False))})
        current.state, current.minutes, current.updated_at = SessionState.HELD, minutes, now
        current.save()
        session.__dict__.update(current.__dict__)
        if dispute.first_session_at is None:
            dispute.first_session_at = current.starts_at
        if dispute.state == S.ASSIGNED:
            dispute.state = S.IN_MEDIATION
        return {"session": current.pk, "present": sorted(pid for pid in party_ids if attendance.get(pid))}

    _transition(actor=actor, number=session.dispute.number, action=A.RECORD_SESSION, expected_version=expected_version,
                apply=apply, is_public=True)
    return session
