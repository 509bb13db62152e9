"""iCalendar (RFC 5545) files for appointments, made with the `icalendar` package.

The file names the service, the place, the time and the booking code: no personal data, so it can
travel by e-mail and sit in any calendar."""

from __future__ import annotations

from datetime import timedelta

from django.utils.translation import gettext as _
from icalendar import Alarm, Calendar, Event

from fengqiao.affairs.models import Booking, BookingState
from fengqiao.core import clock

PRODID = "-//Fengqiao//Village affairs appointments//ZH"


def booking_ics(booking: Booking) -> bytes:
    service = booking.service
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"{booking.code}@appointments.fengqiao")
    event.add("dtstamp", clock.now())
    event.add("dtstart", booking.start)
    event.add("dtend", booking.end)
    event.add("summary", _("Appointment: %(service)s") % {"service": service.name})
    event.add("location", service.location or service.department.name)
    lines = [_("Booking code: %(code)s") % {"code": booking.code}]
    if service.documents:
        lines.append(_("Bring: %(documents)s") % {"documents": service.documents})
    event.add("description", "\n".join(lines))
    cancelled = booking.state == BookingState.CANCELLED
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("sequence", 1 if cancelled else 0)
    if not cancelled:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", _("Appointment: %(service)s") % {"service": service.name})
        alarm.add("trigger", timedelta(hours=-2))
        event.add_component(alarm)
    calendar.add_component(event)
    return calendar.to_ical()
