"""Mediation sessions as iCalendar (RFC 5545) files, with the `icalendar` library.

The event carries the dispute number, the type, the place (room, other place or meeting link) and
the mediator's name; never the parties' names or contact data. Moving a session raises its
SEQUENCE; a cancelled one is sent with STATUS:CANCELLED, so calendars update the same event.
"""

from __future__ import annotations

from datetime import UTC

from icalendar import Calendar, Event

from fengqiao.mediation.models import MediationSession, SessionMode, SessionState


def session_calendar(session: MediationSession) -> bytes:
    dispute = session.dispute
    calendar = Calendar()
    calendar.add("prodid", "-//Fengqiao//Mediation//ZH")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if session.state == SessionState.CANCELLED else "PUBLISH")
    event = Event()
    event.add("uid", session.uid)
    event.add("sequence", session.sequence)
    event.add("dtstamp", session.updated_at.astimezone(UTC))
    event.add("dtstart", session.starts_at.astimezone(UTC))
    event.add("dtend", session.ends_at.astimezone(UTC))
    event.add("summary", f"人民调解 {dispute.number}（{dispute.type.name_zh}）")
    if session.mode == SessionMode.REMOTE:
        event.add("location", session.meeting_link)
        event.add("url", session.meeting_link)
    else:
        place = session.room.name if session.room is not None else session.place
        organisation = dispute.organisation.name_zh if dispute.organisation is not None else ""
        event.add("location", " ".join(x for x in (organisation, place) if x))
    event.add("description", f"调解员：{session.mediator.display_name}\n纠纷编号：{dispute.number}")
    event.add("status", "CANCELLED" if session.state == SessionState.CANCELLED else "CONFIRMED")
    calendar.add_component(event)
    return calendar.to_ical()
