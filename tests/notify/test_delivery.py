"""Delivering the outbox: once, with retries and backoff, and without loss across a crash."""

from __future__ import annotations

import io
import threading
from collections import Counter
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connections, transaction

from fengqiao.core import clock
from fengqiao.notify import channels, services, sms
from fengqiao.notify.channels import message_id
from fengqiao.notify.models import Channel, Message, Status, WebhookSubscription
from fengqiao.notify.services import (
    EmailAddress,
    PhoneNumber,
    backoff,
    deliver_due,
    lease_seconds,
    message_retry,
    notify,
    outbox_purge,
)
from tests.factories import UserFactory

LEASE = timedelta(seconds=lease_seconds())


class SimulatedCrash(BaseException):
    """The worker process dies: not an Exception, so nothing in the sweep catches it."""


class FailingSMSBackend(sms.BaseSMSBackend):
    def send(self, message):
        raise sms.SMSError("gateway said no")


class BrokenSMSBackend(sms.BaseSMSBackend):
    def send(self, message):
        raise RuntimeError("a bug in the backend")


def _emails(*addresses: str, base: str = "event-1") -> list[Message]:
    with transaction.atomic():
        return notify(topic="case.dispatched", recipients=[EmailAddress(a) for a in addresses],
                      subject="案件已派遣", body="请处理。", case_number="C-1", dedup_key_base=base, webhooks=False)


def _message_ids_sent() -> Counter:
    return Counter(m.extra_headers["Message-ID"] for m in mail.outbox)


# -- delivered once -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_committed_notification_is_delivered_once_on_commit(immediate_tasks, receiver):
    user = UserFactory(email="handler@example.org")
    hook = WebhookSubscription.objects.create(name="city", url=receiver.url, topics="case.*")
    with transaction.atomic():
        created = notify(topic="case.dispatched", recipients=[user], subject="案件已派遣", body="请处理。",
                         payload={"case": "C-1"}, case_number="C-1", dedup_key_base="case:C-1:dispatched:1")
        assert mail.outbox == [] and receiver.requests == []  # nothing leaves before commit
    assert len(mail.outbox) == 1 and len(receiver.requests) == 1  # the on-commit task delivered
    (email,) = mail.outbox
    assert email.to == ["handler@example.org"] and email.subject == "案件已派遣"
    email_row = next(m for m in created if m.channel == Channel.EMAIL)
    assert email.extra_headers["Message-ID"] == message_id(email_row)
    assert Message.objects.exclude(status=Status.SENT).count() == 0
    assert Message.objects.get(subscription=hook).attempts == 1

    # more sweeps, and the writer retrying the same event, send nothing more
    assert deliver_due(now=clock.now() + timedelta(days=2)).claimed == 0
    with transaction.atomic():
        assert notify(topic="case.dispatched", recipients=[user], subject="案件已派遣", body="请处理。",
                      case_number="C-1", dedup_key_base="case:C-1:dispatched:1") == []
    assert len(mail.outbox) == 1 and len(receiver.requests) == 1


def test_email_carries_a_stable_message_id_and_delivery_header(db, settings):
    settings.DEFAULT_FROM_EMAIL = "枫桥 <noreply@fengqiao.example>"
    (row,) = _emails("a@example.org")
    deliver_due()
    (email,) = mail.outbox
    assert email.extra_headers["Message-ID"] == f"<{row.uuid}@fengqiao.example>"
    assert email.extra_headers["X-Fengqiao-Delivery"] == str(row.uuid)
    assert email.message()["Message-ID"] == f"<{row.uuid}@fengqiao.example>"  # not replaced by Django


def test_email_attachments_come_from_the_payload(db):
    with transaction.atomic():
        notify(topic="appointment.booked", recipients=[EmailAddress("a@example.org")], subject="预约成功",
               body="请按时到场。", dedup_key_base="booking:1", webhooks=False,
               payload={"attachments": [{"filename": "booking.ics", "content_type": "text/calendar",
                                         "content": "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"}]})
    deliver_due()
    (email,) = mail.outbox
    ((filename, content, content_type),) = email.attachments
    assert filename == "booking.ics" and content.startswith("BEGIN:VCALENDAR") and content_type == "text/calendar"


def test_sms_goes_through_the_configured_backend(db):
    with transaction.atomic():
        (row,) = notify(topic="case.closed", recipients=[PhoneNumber("13812341234")], subject="已结案",
                        body="您反映的问题已办结。", dedup_key_base="e", webhooks=False)
    assert deliver_due().sent == 1
    assert sms.outbox == [sms.SMS(to="13812341234", text="您反映的问题已办结。", reference=str(row.uuid))]


# -- retries and backoff --------------------------------------------------------------------------


def test_failure_is_retried_with_backoff_and_dead_after_max_attempts(db, settings):
    settings.NOTIFY_SMS_BACKEND = f"{__name__}.FailingSMSBackend"
    with transaction.atomic():
        (row,) = notify(topic="case.closed", recipients=[PhoneNumber("13812341234")], subject="s", body="b",
                        dedup_key_base="e", webhooks=False)
    now = clock.now()
    expected = [timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                timedelta(hours=12)]
    for attempt, delay in enumerate(expected, start=1):
        report = deliver_due(now=now)
        assert report.claimed == 1 and report.failed == 1
        row.refresh_from_db()
        assert (row.status, row.attempts, row.next_attempt_at) == (Status.FAILED, attempt, now + delay)
        assert "gateway said no" in row.last_error
        assert deliver_due(now=now + delay - timedelta(seconds=1)).claimed == 0  # not due yet
        now += delay
    report = deliver_due(now=now)
    row.refresh_from_db()
    assert report.dead == 1 and row.status == Status.DEAD and row.attempts == 6
    assert deliver_due(now=now + timedelta(days=30)).claimed == 0  # dead stays dead
    assert sms.outbox == []


def test_backoff_ladder_is_a_setting(settings):
    settings.NOTIFY_RETRY_DELAYS = [10, 20]
    assert [backoff(n) for n in (1, 2, 3, 9)] == [timedelta(seconds=s) for s in (10, 20, 20, 20)]


def test_a_bug_in_a_backend_is_retried_not_fatal(db, settings):
    settings.NOTIFY_SMS_BACKEND = f"{__name__}.BrokenSMSBackend"
    with transaction.atomic():
        notify(topic="case.closed", recipients=[PhoneNumber("13812341234"), EmailAddress("a@example.org")],
               subject="s", body="b", dedup_key_base="e", webhooks=False)
    report = deliver_due()
    assert (report.sent, report.failed) == (1, 1)
    assert Message.objects.get(channel=Channel.SMS).last_error.startswith("RuntimeError")


def test_a_deleted_subscription_is_a_permanent_failure(db):
    hook = WebhookSubscription.objects.create(name="city", url="http://127.0.0.1:9/", topics="*")
    with transaction.atomic():
        (row,) = notify(topic="case.closed", subject="s", dedup_key_base="e")
    hook.delete()
    assert deliver_due().dead == 1
    row.refresh_from_db()
    assert row.status == Status.DEAD and row.attempts == 1 and "deleted" in row.last_error


def test_retry_requeues_failed_and_dead_rows_but_never_sent_ones(db):
    rows = _emails("a@example.org", "b@example.org", "c@example.org")
    Message.objects.filter(pk=rows[0].pk).update(status=Status.DEAD, attempts=6)
    Message.objects.filter(pk=rows[1].pk).update(status=Status.SENT)
    Message.objects.filter(pk=rows[2].pk).update(status=Status.FAILED, attempts=2,
                                                 next_attempt_at=clock.now() + timedelta(hours=2))
    assert message_retry(actor=None, message_ids=[r.pk for r in rows]) == 2
    report = deliver_due()
    assert report.sent == 2 and sorted(m.to[0] for m in mail.outbox) == ["a@example.org", "c@example.org"]


# -- crashes --------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_outbox_delivery_after_a_simulated_crash_after_sending(monkeypatch):
    """The worker dies after sending row 2 but before marking it sent; row 3 was claimed, not sent."""
    rows = _emails("a@example.org", "b@example.org", "c@example.org")
    real_mark_sent = services._mark_sent
    marks = []

    def mark_sent_then_crash(**kwargs):
        marks.append(kwargs["message"].pk)
        if len(marks) == 2:
            raise SimulatedCrash
        return real_mark_sent(**kwargs)

    monkeypatch.setattr(services, "_mark_sent", mark_sent_then_crash)
    t0 = clock.now()
    with pytest.raises(SimulatedCrash):
        deliver_due(now=t0)
    monkeypatch.setattr(services, "_mark_sent", real_mark_sent)  # a new worker process starts

    statuses = dict(Message.objects.values_list("pk", "status"))
    assert statuses == {rows[0].pk: Status.SENT, rows[1].pk: Status.SENDING, rows[2].pk: Status.SENDING}
    assert len(mail.outbox) == 2  # nothing lost: the claimed rows are still in the outbox

    # while the dead worker's lease runs, nobody else takes its rows
    assert deliver_due(now=t0 + LEASE - timedelta(seconds=1)).claimed == 0

    report = deliver_due(now=t0 + LEASE)
    assert (report.claimed, report.sent) == (2, 2)
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SENT}
    sent = _message_ids_sent()
    # row 1 (marked sent) was not sent again; row 3 was sent once; row 2, whose "sent" mark was lost
    # in the crash, went out twice under the same Message-ID so that the receiver can drop the repeat
    assert sent == {message_id(rows[0]): 1, message_id(rows[1]): 2, message_id(rows[2]): 1}
    assert deliver_due(now=t0 + 2 * LEASE).claimed == 0
    assert len(mail.outbox) == 4


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_outbox_delivery_after_a_simulated_crash_before_sending(monkeypatch):
    rows = _emails("a@example.org", "b@example.org")

    def crash(self, message):
        raise SimulatedCrash

    monkeypatch.setattr(channels.Courier, "send", crash)
    t0 = clock.now()
    with pytest.raises(SimulatedCrash):
        deliver_due(now=t0)
    monkeypatch.undo()
    assert Message.objects.filter(status=Status.SENDING).count() == 2 and mail.outbox == []

    report = deliver_due(now=t0 + LEASE)
    assert report.sent == 2
    assert _message_ids_sent() == {message_id(rows[0]): 1, message_id(rows[1]): 1}  # each exactly once
    assert list(Message.objects.values_list("attempts", flat=True)) == [2, 2]  # the crash counted


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_message_that_keeps_crashing_the_worker_ends_dead(monkeypatch, settings):
    settings.NOTIFY_MAX_ATTEMPTS = 2
    (row,) = _emails("a@example.org")

    def crash(self, message):
        raise SimulatedCrash

    monkeypatch.setattr(channels.Courier, "send", crash)
    t0 = clock.now()
    for sweep in range(2):
        with pytest.raises(SimulatedCrash):
            deliver_due(now=t0 + sweep * LEASE)
    report = deliver_due(now=t0 + 2 * LEASE)
    row.refresh_from_db()
    assert report.dead == 1 and report.claimed == 0
    assert row.status == Status.DEAD and "interrupted" in row.last_error


def test_a_sender_whose_lease_ran_out_does_not_overwrite_the_new_owner(db, monkeypatch):
    """Worker A stalls past its lease; worker B takes the row over and sends it; A's late mark is dropped."""
    (row,) = _emails("a@example.org")
    real_send = channels.Courier.send
    t0 = clock.now()
    inner = []

    def stalled_send(self, message):
        if not inner:
            inner.append(None)
            inner[0] = deliver_due(now=t0 + LEASE)  # worker B, after A's lease ran out
        return real_send(self, message)

    monkeypatch.setattr(channels.Courier, "send", stalled_send)
    report_a = deliver_due(now=t0)
    (report_b,) = inner
    assert report_b.sent == 1 and report_a.lost == 1 and report_a.sent == 0
    row.refresh_from_db()
    assert row.status == Status.SENT and row.attempts == 2
    assert _message_ids_sent() == {message_id(row): 2}  # same id: the receiver drops the repeat


def test_a_sweep_running_out_of_lease_time_hands_rows_back(db, monkeypatch):
    rows = _emails("a@example.org", "b@example.org")
    # the monotonic clock read at the claim, before row 1 (100 s later), before row 2 (past half the lease)
    readings = iter([0.0, 100.0, lease_seconds() / 2 + 1])
    monkeypatch.setattr(services, "time", SimpleNamespace(monotonic=lambda: next(readings)))
    report = deliver_due()
    assert (report.claimed, report.sent, report.released) == (2, 1, 1)
    rows[1].refresh_from_db()
    assert (rows[1].status, rows[1].attempts, rows[1].claimed_by) == (Status.PENDING, 0, "")
    monkeypatch.undo()
    assert deliver_due().sent == 1 and len(mail.outbox) == 2


# -- the sweep reads only what is due -------------------------------------------------------------


def _backlog(count: int) -> None:
    """Rows the sweep must not read: delivered, dead, not due yet, and leased to a live worker."""
    now = clock.now()
    statuses = [(Status.SENT, now), (Status.DEAD, now), (Status.FAILED, now + timedelta(hours=1)),
                (Status.PENDING, now + timedelta(minutes=5)), (Status.SENDING, now + LEASE)]
    Message.objects.bulk_create([
        Message(channel=Channel.EMAIL, address=f"x{i}@example.org", topic="t", subject="s", dedup_key=f"k{i}",
                status=status, next_attempt_at=at)
        for i in range(count) for status, at in [statuses[i % len(statuses)]]
    ])


def _sweep_queries(django_assert_max_num_queries, *, due: int, bound: int) -> list[str]:
    _emails(*[f"due{i}@example.org" for i in range(due)], base=f"due-{due}")
    with django_assert_max_num_queries(bound) as captured:
        report = deliver_due()
    assert report.sent == due and len(mail.outbox) == due
    return [q["sql"] for q in captured.captured_queries]


def test_the_sweep_reads_only_due_rows(db, django_assert_max_num_queries):
    # a fixed number of queries per sweep (claim, re-read) plus one per due row (mark sent),
    # however large the backlog is
    empty = _sweep_queries(django_assert_max_num_queries, due=0, bound=5)
    _backlog(500)
    assert len(_sweep_queries(django_assert_max_num_queries, due=0, bound=5)) == len(empty)
    queries = _sweep_queries(django_assert_max_num_queries, due=3, bound=len(empty) + 2 + 3)
    claim = next(q for q in queries if q.lstrip().upper().startswith("SELECT") and "next_attempt_at" in q)
    assert "LIMIT" in claim.upper()
    assert Message.objects.filter(status=Status.SENT, topic="case.dispatched").count() == 3


# -- interfaces: task, command, purge -------------------------------------------------------------


def test_the_task_delivers_what_it_is_given(db, immediate_tasks):
    from fengqiao.notify.tasks import deliver_outbox

    rows = _emails("a@example.org", "b@example.org")
    result = deliver_outbox.enqueue(message_ids=[rows[0].pk])
    assert result.return_value["sent"] == 1
    assert [m.to for m in mail.outbox] == [["a@example.org"]]
    assert deliver_outbox.enqueue().return_value["sent"] == 1  # the sweep takes the rest


def test_the_command_delivers_once_and_in_a_loop(db):
    _emails("a@example.org")
    out = io.StringIO()
    call_command("notify", "deliver", stdout=out)
    assert "sent=1" in out.getvalue() and len(mail.outbox) == 1
    _emails("b@example.org", base="event-2")
    call_command("notify", "deliver", "--loop", "--iterations", "2", "--interval", "0")
    assert len(mail.outbox) == 2


def test_purge_removes_old_delivered_rows_but_keeps_inboxes_and_open_rows(db):
    user = UserFactory(email="a@example.org")
    with transaction.atomic():
        notify(topic="case.closed", recipients=[user, EmailAddress("b@example.org")], subject="s",
               dedup_key_base="e", webhooks=False)
    deliver_due()
    _emails("c@example.org", base="still-open")
    later = clock.now() + timedelta(days=181)
    assert outbox_purge(now=later) == 2  # the two delivered e-mails
    assert sorted(Message.objects.values_list("channel", "status")) == [("email", "pending"), ("inbox", "sent")]
    call_command("notify", "purge", "--days", "0")


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_parallel_sweeps_never_send_a_row_twice(settings):
    settings.NOTIFY_CLAIM_BATCH = 3
    rows = _emails(*[f"r{i}@example.org" for i in range(30)])
    start = threading.Barrier(4)
    reports, errors = [], []

    def worker():
        try:
            start.wait()
            reports.append(deliver_due())
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.sent for r in reports) == 30 and sum(r.claimed for r in reports) == 30
    assert _message_ids_sent() == {message_id(row): 1 for row in rows}
