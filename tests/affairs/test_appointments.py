"""Appointments: slots from the weekly pattern on working days, booking rules, cancel and reschedule."""

from __future__ import annotations

import threading
from datetime import date, time, timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone
from icalendar import Calendar

from fengqiao.affairs import selectors as sel
from fengqiao.affairs import services as s
from fengqiao.affairs.ics import booking_ics
from fengqiao.affairs.models import AffairsEvent, Booking, BookingState, Slot, WeeklySlot
from fengqiao.core import clock
from fengqiao.core.errors import Conflict, InvalidInput, NotFound, TransitionNotAllowed
from fengqiao.notify.models import Message

from .conftest import local

# skipped before any fixture runs (a transactional fixture on SQLite has nothing to test here)
ONLY_POSTGRESQL = pytest.mark.skipif(connection.vendor != "postgresql",
                                     reason="row locks and concurrency are exercised on PostgreSQL (CI runs the suite there too)")

pytestmark = pytest.mark.django_db


def book(people, slot, phone="13812345678", **extra):
    return s.booking_create(actor=None, service_id=people.service.pk, slot_id=slot.pk, name="李四", phone=phone,
                            **extra)


def test_slots_follow_the_weekly_pattern_on_working_days_only(people):
    WeeklySlot.objects.create(service=people.service, weekday=0, start=time(9, 0), capacity=2)
    WeeklySlot.objects.create(service=people.service, weekday=3, start=time(14, 0), capacity=1)
    # 2025-09-29 (Mon) to 2025-10-12: the National Day holiday (1-8 Oct) and the adjusted working days
    # Sunday 28 Sep and Saturday 11 Oct (调休)
    with clock.travel(local(date(2025, 9, 27), 8)):
        made = s.slots_generate(service=people.service, start=date(2025, 9, 28), days=14)
    days = sorted({timezone.localtime(x.start).date() for x in Slot.objects.filter(service=people.service)})
    assert date(2025, 10, 2) not in days and date(2025, 10, 6) not in days  # holidays
    assert date(2025, 9, 28) in days and date(2025, 10, 11) in days  # adjusted working days take Monday's
    assert date(2025, 9, 29) in days and date(2025, 10, 9) in days  # Monday, and a Thursday
    assert made == Slot.objects.count()
    with clock.travel(local(date(2025, 9, 27), 8)):
        assert s.slots_generate(service=people.service, start=date(2025, 9, 28), days=14) == 0  # idempotent


def test_booking_fills_a_slot_and_the_next_gets_a_clear_full_error(people):
    slot = people.slot(capacity=1)
    first = book(people, slot)
    assert first.state == BookingState.BOOKED and len(first.code) == 8
    with pytest.raises(Conflict) as full:
        book(people, slot, phone="13900001111")
    assert full.value.code == "full" and "fully booked" in str(full.value)


def test_same_phone_cannot_hold_overlapping_bookings(people):
    a = people.slot(hours=48, capacity=5)
    other_service_slot = people.slot(hours=48.25, capacity=5)  # starts 15 min later: overlaps
    book(people, a, phone="+86 138-1234-5678")
    with pytest.raises(Conflict) as refused:
        book(people, other_service_slot, phone="13812345678")
    assert refused.value.code == "overlap"


def test_past_slots_cannot_be_booked(people):
    slot = people.slot(hours=-1)
    with pytest.raises(InvalidInput) as refused:
        book(people, slot)
    assert refused.value.code == "past"
    assert not Booking.objects.exists()


def test_contact_is_checked_and_encrypted(people):
    slot = people.slot()
    with pytest.raises(InvalidInput) as refused:
        s.booking_create(actor=None, service_id=people.service.pk, slot_id=slot.pk, name="", phone="abc",
                         email="not-mail")
    assert {e.field for e in refused.value.errors} == {"name", "phone", "email"}
    booking = book(people, slot)
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, phone FROM affairs_booking WHERE id = %s", [booking.pk])
        raw_name, raw_phone = cursor.fetchone()
    assert "李四" not in raw_name and "5678" not in raw_phone


def test_cancel_and_reschedule_need_the_code_and_the_phone(people):
    first, second = people.slot(hours=48, capacity=1), people.slot(hours=72, capacity=1)
    booking = book(people, first)
    with pytest.raises(NotFound):
        s.booking_cancel(code=booking.code, phone_last4="0000")
    moved = s.booking_reschedule(code=booking.code.lower(), phone_last4="5678", slot_id=second.pk)
    assert moved.slot_id == second.pk
    book(people, first, phone="13900001111")  # the first slot is free again
    cancelled = s.booking_cancel(code=booking.code, phone_last4="5678")
    assert cancelled.state == BookingState.CANCELLED
    with pytest.raises(TransitionNotAllowed):
        s.booking_cancel(code=booking.code, phone_last4="5678")
    assert list(AffairsEvent.objects.filter(subject_type="booking", subject_id=booking.pk)
                .values_list("action", flat=True)) == ["book", "reschedule", "cancel"]


def test_idempotency_key_returns_the_first_booking(people):
    slot = people.slot(capacity=3)
    one = book(people, slot, idempotency_key="k-1")
    again = book(people, slot, idempotency_key="k-1")
    assert one.pk == again.pk and Booking.objects.count() == 1


def test_confirmation_email_carries_an_ics_without_personal_data(people):
    slot = people.slot()
    booking = book(people, slot, email="li@example.org")
    message = Message.objects.get(topic="affairs.booking.booked")
    assert message.address == "li@example.org" and booking.code in message.body
    ics = message.payload["attachments"][0]["content"]
    event = Calendar.from_ical(ics).walk("VEVENT")[0]
    assert event.decoded("dtstart") == booking.start
    assert booking.code in str(event.get("description"))
    assert "李四" not in ics and "5678" not in ics
    assert booking_ics(booking).decode().count("BEGIN:VEVENT") == 1


def test_day_list_is_scoped_and_marks_attendance(people):
    slot = people.slot(hours=0.5)
    booking = book(people, slot)
    day = timezone.localdate(slot.start)
    assert list(sel.day_list(actor=people.handler, day=day)) == [booking]
    assert not sel.day_list(actor=people.other_clerk, day=day).exists()
    with pytest.raises(NotFound):
        s.booking_mark(actor=people.other_clerk, booking_id=booking.pk, attended=True)
    assert s.booking_mark(actor=people.handler, booking_id=booking.pk, attended=True).state == BookingState.ATTENDED


@ONLY_POSTGRESQL
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_last_place_booked_by_concurrent_requests_goes_to_exactly_one(people):
    slot = people.slot(capacity=2)
    book(people, slot, phone="13700000000")  # one place left
    racers = 6
    barrier = threading.Barrier(racers)
    outcomes: list[str] = []

    def race(n: int) -> None:
        try:
            barrier.wait()
            s.booking_create(actor=None, service_id=people.service.pk, slot_id=slot.pk, name=f"居民{n}",
                             phone=f"1390000{n:04d}")
            outcomes.append("ok")
        except Conflict as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=race, args=(n,)) for n in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["full"] * (racers - 1) + ["ok"]
    assert Booking.objects.filter(slot=slot, state=BookingState.BOOKED).count() == 2


def test_open_slots_show_free_places(people):
    slot = people.slot(capacity=2)
    book(people, slot)
    views = sel.open_slots(service=people.service)
    assert [(v.slot.pk, v.free) for v in views] == [(slot.pk, 1)]
    assert people.slot(hours=-2) not in [v.slot for v in sel.open_slots(service=people.service)]
    assert timedelta(0) < views[0].start - timezone.now()
