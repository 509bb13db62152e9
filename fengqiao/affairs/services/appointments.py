"""Online appointments (网上约办): slots generated from each service's weekly pattern on working days
(and added by hand), bookings made, cancelled and rescheduled by residents with the booking code and
the last 4 digits of their phone, and the day's list that the office marks attended or no-show.

No double booking: a booking locks its slot row (SELECT … FOR UPDATE; on SQLite the write
transaction itself is exclusive) and counts the slot's bookings inside the transaction, so the last
place of a slot booked by concurrent requests goes to exactly one of them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fengqiao.affairs.models import (
    ACTIVE_BOOKING_STATES,
    AppointmentService,
    Booking,
    BookingState,
    Slot,
    WeeklySlot,
)
from fengqiao.affairs.services.common import clean_text, raise_errors, record
from fengqiao.core import clock
from fengqiao.core.crypto import blind_index
from fengqiao.core.errors import Conflict, ErrorDetail, InvalidInput, NotFound, TransitionNotAllowed
from fengqiao.core.masking import normalise_phone
from fengqiao.org.permissions import Action, permissions_for

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
NAME_MAX = 50
NOTE_MAX = 500
MAX_DAYS_AHEAD = 60
MAX_CAPACITY = 200


def _service_not_found() -> NotFound:
    return NotFound("not_found", _("No such service."))


def _require_manager(actor: Any, service: AppointmentService) -> None:
    if not permissions_for(actor).can(Action.MANAGE_APPOINTMENTS, service):
        raise _service_not_found()


# -- slots ---------------------------------------------------------------------------------------
def _local_tz():
    return timezone.get_default_timezone()


def _pattern_for(service: AppointmentService, day: date, pattern: dict[int, list[WeeklySlot]]) -> list[WeeklySlot]:
    """The weekly slots of `day`; an adjusted working day on a weekend (调休) follows Monday's pattern."""
    rows = pattern.get(day.weekday(), [])
    if not rows and day.weekday() >= 5:
        rows = pattern.get(0, [])
    return rows


def slots_generate(*, service: AppointmentService, start: date | None = None, days: int | None = None,
                   actor: Any = None) -> int:
    """Create the slots of the weekly pattern on the working days from `start` for `days` days.
    Idempotent: slots that exist are left alone (also ones an office closed). Returns how many were made."""
    from fengqiao.core.calendar import get_calendar

    if actor is not None:
        _require_manager(actor, service)
    tz = _local_tz()
    start = start or timezone.localdate(clock.now(), tz)
    days = service.days_ahead if days is None else days
    days = max(0, min(days, MAX_DAYS_AHEAD))
    calendar = get_calendar()
    pattern: dict[int, list[WeeklySlot]] = {}
    for row in service.weekly.all():
        pattern.setdefault(row.weekday, []).append(row)
    if not pattern:
        return 0
    now = clock.now()
    wanted: list[Slot] = []
    for offset in range(days + 1):
        day = start + timedelta(days=offset)
        if not calendar.is_workday(day):
            continue
        for row in _pattern_for(service, day, pattern):
            begins = datetime.combine(day, row.start, tzinfo=tz)
            if begins <= now:
                continue
            wanted.append(Slot(service=service, start=begins, end=begins + timedelta(minutes=service.duration_minutes),
                               capacity=row.capacity))
    if not wanted:
        return 0
    with transaction.atomic():
        existing = set(Slot.objects.filter(service=service, start__in=[s.start for s in wanted])
                       .values_list("start", flat=True))
        new = [s for s in wanted if s.start not in existing]
        Slot.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def generate_all_slots() -> int:
    """Periodic job: every active service's slots for its coming days (idempotent)."""
    total = 0
    for service in AppointmentService.objects.filter(is_active=True).prefetch_related("weekly"):
        total += slots_generate(service=service)
    return total


@transaction.atomic
def slot_add(*, actor: Any, service_id: int, start: datetime | None, capacity: int | None) -> Slot:
    """A slot added by hand (e.g. an extra afternoon); refused in the past or where one starts already."""
    service = AppointmentService.objects.select_related("department").filter(pk=service_id).first()
    if service is None:
        raise _service_not_found()
    _require_manager(actor, service)
    errors: list[ErrorDetail] = []
    if start is None:
        errors.append(ErrorDetail("required", _("Give the date and time."), "start"))
    elif start <= clock.now():
        errors.append(ErrorDetail("past", _("This time has passed."), "start"))
    if capacity is None or not 1 <= capacity <= MAX_CAPACITY:
        errors.append(ErrorDetail("invalid_capacity", _("Give a capacity from 1 to %(n)d.") % {"n": MAX_CAPACITY},
                                  "capacity"))
    raise_errors(errors)
    assert start is not None and capacity is not None
    if Slot.objects.filter(service=service, start=start).exists():
        raise InvalidInput("exists", _("A slot already starts at this time."), field="start")
    slot = Slot.objects.create(service=service, start=start, end=start + timedelta(minutes=service.duration_minutes),
                               capacity=capacity, is_manual=True)
    record(subject=slot, action="add", actor=actor, payload={"capacity": capacity}, now=clock.now())
    return slot


@transaction.atomic
def slot_close(*, actor: Any, slot_id: int) -> Slot:
    """Stop taking bookings for a slot (bookings already made stay; the office tells those people)."""
    slot = Slot.objects.select_for_update(of=("self",)).select_related("service").filter(pk=slot_id).first()
    if slot is None:
        raise NotFound("not_found", _("No such time slot."))
    _require_manager(actor, slot.service)
    if slot.is_active:
        slot.is_active = False
        slot.save(update_fields=["is_active"])
        record(subject=slot, action="close", actor=actor, now=clock.now())
    return slot


# -- bookings ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Contact:
    name: str
    phone: str
    email: str = ""


def _check_contact(name: str, phone: str, email: str, errors: list[ErrorDetail]) -> Contact:
    name = clean_text(name, field="name", required=True, max_length=NAME_MAX, errors=errors,
                      required_message=_("Give your name."))
    normalised = normalise_phone(phone)
    digits = normalised.lstrip("+")
    if not (phone or "").strip():
        errors.append(ErrorDetail("required", _("Give your phone number."), "phone"))
    elif not digits.isdigit() or not 7 <= len(digits) <= 15 or (len(digits) == 11 and not digits.startswith("1")
                                                              and not normalised.startswith("+")):
        errors.append(ErrorDetail("invalid_phone", _("Give a phone number we can call, e.g. 13812345678."), "phone"))
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors.append(ErrorDetail("invalid_email", _("Give a valid e-mail address, or leave it empty."), "email"))
    return Contact(name=name, phone=normalised, email=email)


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _i in range(CODE_LENGTH))


def _lock_slot(slot_id: int, service: AppointmentService | None = None) -> Slot:
    slot = Slot.objects.select_for_update(of=("self",)).select_related("service", "service__department").filter(
        pk=slot_id).first()
    if slot is None or (service is not None and slot.service_id != service.pk):
        raise InvalidInput("invalid_choice", _("Choose one of the times offered."), field="slot")
    return slot


def _check_bookable(slot: Slot, phone_index: str, *, exclude: int | None = None) -> None:
    if not slot.is_active or not slot.service.is_active:
        raise InvalidInput("closed", _("This time is no longer offered. Choose another."), field="slot")
    if slot.start <= clock.now():
        raise InvalidInput("past", _("This time has passed. Choose a later one."), field="slot")
    taken = slot.bookings.filter(state__in=ACTIVE_BOOKING_STATES)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.count() >= slot.capacity:
        raise Conflict("full", _("This time is fully booked. Choose another."), field="slot")
    overlapping = Booking.objects.filter(phone_index=phone_index, state=BookingState.BOOKED, start__lt=slot.end,
                                         end__gt=slot.start)
    if exclude is not None:
        overlapping = overlapping.exclude(pk=exclude)
    if overlapping.exists():
        raise Conflict("overlap", _("You already have an appointment at this time (same phone number)."),
                       field="slot")


def booking_create(*, actor: Any, service_id: int, slot_id: int | None, name: str, phone: str, email: str = "",
                   note: str = "", idempotency_key: str = "") -> Booking:
    """Book a place in a slot. A retry with the same idempotency key returns the first booking."""
    key = (idempotency_key or "").strip()[:100]
    if key:
        existing = Booking.objects.filter(idempotency_key=key).select_related("slot", "service").first()
        if existing is not None:
            return existing
    try:
        return _booking_create(actor=actor, service_id=service_id, slot_id=slot_id, name=name, phone=phone,
                               email=email, note=note, key=key)
    except IntegrityError:
        if key:
            existing = Booking.objects.filter(idempotency_key=key).select_related("slot", "service").first()
            if existing is not None:
                return existing
        raise Conflict("retry", _("The same request is being processed; try again.")) from None


@transaction.atomic
def _booking_create(*, actor: Any, service_id: int, slot_id: int | None, name: str, phone: str, email: str,
                    note: str, key: str) -> Booking:
    service = AppointmentService.objects.filter(pk=service_id, is_active=True).first()
    if service is None:
        raise _service_not_found()
    errors: list[ErrorDetail] = []
    if slot_id is None:
        errors.append(ErrorDetail("required", _("Choose a time."), "slot"))
    contact = _check_contact(name, phone, email, errors)
    note = clean_text(note, field="note", required=False, max_length=NOTE_MAX, errors=errors)
    raise_errors(errors)
    assert slot_id is not None
    slot = _lock_slot(slot_id, service)
    phone_index = blind_index(contact.phone, "phone")
    _check_bookable(slot, phone_index)
    now = clock.now()
    user = actor if getattr(actor, "is_authenticated", False) else None
    for _attempt in range(5):
        code = _new_code()
        if not Booking.objects.filter(code=code).exists():
            break
    booking = Booking.objects.create(
        code=code, slot=slot, service=service, name=contact.name, phone=contact.phone, phone_index=phone_index,
        email=contact.email, note=note, user=user, start=slot.start, end=slot.end, idempotency_key=key,
        created_at=now, updated_at=now)
    record(subject=booking, action="book", actor=actor, to_state=BookingState.BOOKED,
           payload={"slot": slot.pk}, now=now)
    _confirm(booking, "booked")
    return booking


def _confirm(booking: Booking, what: str) -> None:
    """An e-mail (with the .ics) to the address the resident left, through the outbox."""
    if not booking.email:
        return
    from fengqiao.affairs.ics import booking_ics
    from fengqiao.notify.services import EmailAddress, notify

    local = timezone.localtime(booking.start)
    subjects = {
        "booked": _("Appointment confirmed: %(service)s, %(when)s"),
        "rescheduled": _("Appointment moved: %(service)s, %(when)s"),
        "cancelled": _("Appointment cancelled: %(service)s, %(when)s"),
    }
    subject = subjects[what] % {"service": booking.service.name, "when": f"{local:%Y-%m-%d %H:%M}"}
    body = "\n".join([
        subject,
        _("Booking code: %(code)s") % {"code": booking.code},
        _("Where: %(place)s") % {"place": booking.service.location or booking.service.department.name},
        _("Bring: %(documents)s") % {"documents": booking.service.documents or "—"},
        _("To cancel or change it, use the booking code and the last 4 digits of your phone on the appointments "
          "page."),
    ])
    notify(topic=f"affairs.booking.{what}", recipients=[EmailAddress(booking.email)], subject=subject, body=body,
           payload={"attachments": [{"filename": f"appointment-{booking.code}.ics", "content_type": "text/calendar",
                                     "content": booking_ics(booking).decode()}]},
           dedup_key_base=f"affairs:booking:{booking.code}:{what}:{booking.slot_id}", channels=("email",),
           webhooks=False)


def _find(code: str, phone_last4: str) -> Booking:
    """The booking of `code` whose phone ends in `phone_last4` (locked); NotFound otherwise."""
    code = (code or "").strip().upper().replace(" ", "")
    last4 = "".join(ch for ch in (phone_last4 or "") if ch.isdigit())
    errors: list[ErrorDetail] = []
    if not code:
        errors.append(ErrorDetail("required", _("Give the booking code."), "code"))
    if len(last4) != 4:
        errors.append(ErrorDetail("invalid", _("Give the last 4 digits of your phone number."), "phone_last4"))
    raise_errors(errors)
    booking = Booking.objects.select_for_update(of=("self",)).select_related("slot", "service").filter(
        code=code).first()
    if booking is None or not booking.phone.endswith(last4):
        raise NotFound("not_found", _("No booking with this code and phone number."))
    return booking


def booking_find(*, code: str, phone_last4: str) -> Booking:
    with transaction.atomic():
        return _find(code, phone_last4)


@transaction.atomic
def booking_cancel(*, code: str, phone_last4: str, actor: Any = None) -> Booking:
    booking = _find(code, phone_last4)
    if booking.state != BookingState.BOOKED:
        raise TransitionNotAllowed("not_booked", _("This booking is no longer active."))
    if booking.start <= clock.now():
        raise TransitionNotAllowed("past", _("This appointment has already begun."))
    now = clock.now()
    booking.state = BookingState.CANCELLED
    booking.updated_at = now
    booking.save(update_fields=["state", "updated_at"])
    record(subject=booking, action="cancel", actor=actor, from_state=BookingState.BOOKED,
           to_state=BookingState.CANCELLED, now=now)
    _confirm(booking, "cancelled")
    return booking


@transaction.atomic
def booking_reschedule(*, code: str, phone_last4: str, slot_id: int | None, actor: Any = None) -> Booking:
    """Move a booking to another slot of the same service (same code)."""
    booking = _find(code, phone_last4)
    if booking.state != BookingState.BOOKED:
        raise TransitionNotAllowed("not_booked", _("This booking is no longer active."))
    if booking.start <= clock.now():
        raise TransitionNotAllowed("past", _("This appointment has already begun."))
    if slot_id is None:
        raise InvalidInput("required", _("Choose a time."), field="slot")
    if slot_id == booking.slot_id:
        raise InvalidInput("same_slot", _("This is the time you have booked already."), field="slot")
    slot = _lock_slot(slot_id, booking.service)
    _check_bookable(slot, booking.phone_index, exclude=booking.pk)
    now = clock.now()
    old = booking.slot_id
    booking.slot, booking.start, booking.end, booking.updated_at = slot, slot.start, slot.end, now
    booking.save(update_fields=["slot", "start", "end", "updated_at"])
    record(subject=booking, action="reschedule", actor=actor, from_state=BookingState.BOOKED,
           to_state=BookingState.BOOKED, payload={"from_slot": old, "to_slot": slot.pk}, now=now)
    _confirm(booking, "rescheduled")
    return booking


@transaction.atomic
def booking_mark(*, actor: Any, booking_id: int, attended: bool) -> Booking:
    """The office marks a booking attended or no-show (from the start of the slot on the day)."""
    booking = Booking.objects.select_for_update(of=("self",)).select_related("service").filter(pk=booking_id).first()
    if booking is None or not permissions_for(actor).can(Action.MANAGE_APPOINTMENTS, booking):
        raise NotFound("not_found", _("No such booking."))
    if booking.state == BookingState.CANCELLED:
        raise TransitionNotAllowed("cancelled", _("This booking was cancelled."))
    today = timezone.localdate(clock.now())
    if timezone.localdate(booking.start) > today:
        raise TransitionNotAllowed("future", _("Mark attendance on the day of the appointment."))
    target = BookingState.ATTENDED if attended else BookingState.NO_SHOW
    if booking.state != target:
        now = clock.now()
        before = booking.state
        booking.state, booking.updated_at = target, now
        booking.save(update_fields=["state", "updated_at"])
        record(subject=booking, action="mark", actor=actor, from_state=before, to_state=target, now=now)
    return booking


def parse_local_datetime(day: str, at: str) -> datetime | None:
    """"2026-05-04" and "09:30" in the site's time zone; None when either is not understood."""
    try:
        return datetime.combine(date.fromisoformat(day.strip()), time.fromisoformat(at.strip()),
                                tzinfo=_local_tz())
    except (ValueError, AttributeError):
        return None
