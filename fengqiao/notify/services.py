"""Writes to the notification outbox, and the sweep that delivers it.

`notify` writes outbox rows in the caller's transaction: if that transaction rolls back, nothing
was written and nothing is sent. After commit a delivery task is enqueued for the new rows; the
periodic sweep (`deliver_due`) picks up whatever that task did not deliver (worker down, enqueue
failed, a retry is due, a worker crashed mid-send).

Delivery is at-least-once: a row is claimed under a lease before it is sent, so a crash loses
nothing, and a crash between "sent" and "marked sent" means the row is sent again once the lease
runs out. Every attempt carries the row's delivery id (e-mail Message-ID, webhook
Idempotency-Key / X-Fengqiao-Delivery, SMS client reference) so a receiver can drop a repeat, and a
row marked sent is never sent again.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.db.models import F, Field, QuerySet

from fengqiao.core import clock
from fengqiao.core.crypto import blind_index
from fengqiao.core.db import insert_rows
from fengqiao.core.errors import InvalidInput
from fengqiao.core.masking import normalise_phone
from fengqiao.core.versioning import VersionedCache
from fengqiao.notify.channels import Courier, PermanentFailure, TemporaryFailure
from fengqiao.notify.models import OPEN_STATUSES, Channel, Message, Status, WebhookSubscription

logger = logging.getLogger("fengqiao.notify")

DEFAULT_RETRY_DELAYS = (60, 300, 1800, 7200, 43200)  # 1 min, 5 min, 30 min, 2 h, 12 h
USER_CHANNELS = (Channel.INBOX, Channel.EMAIL, Channel.SMS)
_TOPIC = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_-]+)*$")
_PHONE = re.compile(r"^\+?\d{5,20}$")


@dataclass(frozen=True)
class EmailAddress:
    """A recipient that is an e-mail address rather than a user (e.g. a resident who left one)."""

    address: str


@dataclass(frozen=True)
class PhoneNumber:
    """A recipient that is a phone number (SMS)."""

    number: str


Recipient = AbstractBaseUser | EmailAddress | PhoneNumber


# -- settings -------------------------------------------------------------------------------------


def retry_delays() -> tuple[int, ...]:
    return tuple(int(s) for s in getattr(settings, "NOTIFY_RETRY_DELAYS", DEFAULT_RETRY_DELAYS))


def max_attempts() -> int:
    return int(getattr(settings, "NOTIFY_MAX_ATTEMPTS", len(retry_delays()) + 1))


def lease_seconds() -> int:
    return int(getattr(settings, "NOTIFY_LEASE_SECONDS", 600))


def claim_batch_size() -> int:
    return int(getattr(settings, "NOTIFY_CLAIM_BATCH", 20))


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt (1-based); the last delay repeats."""
    delays = retry_delays()
    return timedelta(seconds=delays[min(max(attempts, 1), len(delays)) - 1])


# -- writing --------------------------------------------------------------------------------------


def _dedup_key(base: str, channel: str, identity: str) -> str:
    # a keyed hash (blind index): unique, fixed-length, and no e-mail address or phone number can be
    # recovered from it by trying candidates without the key
    return blind_index(f"{base}\x1f{channel}\x1f{identity}", "notify.dedup")


def _user_phone(user: AbstractBaseUser) -> str:
    profile = getattr(user, "staff_profile", None)
    return normalise_phone(getattr(profile, "phone", "") or "")


def notify(
    *,
    topic: str,
    recipients: Iterable[Recipient] = (),
    subject: str,
    body: str = "",
    payload: Mapping[str, Any] | None = None,
    case_number: str = "",
    dedup_key_base: str,
    channels: Collection[str] = (Channel.INBOX, Channel.EMAIL),
    webhooks: bool = True,
) -> list[Message]:
    """Write the outbox rows for one event, in the caller's (open) transaction; return the new rows.

    - A user gets one row per channel in `channels` (inbox, email, sms) for which they have an
      address; an `EmailAddress` gets an e-mail, a `PhoneNumber` an SMS.
    - With `webhooks`, every active subscription whose topic patterns match `topic` gets a row.
    - `dedup_key_base` names the event (e.g. "case:330681-20250101-0001:dispatched:17"): the same
      event to the same recipient on the same channel is written once, so a retried writer adds
      nothing. Rows that already existed are not returned.
    - Inbox rows are delivered by the commit itself. For the others a delivery task is enqueued
      with `transaction.on_commit`; if the transaction rolls back, nothing is written or sent.
    """
    messages = build_messages(topic=topic, recipients=recipients, subject=subject, body=body, payload=payload,
                              case_number=case_number, dedup_key_base=dedup_key_base, channels=channels,
                              webhooks=webhooks)
    return write_messages(messages)


def build_messages(
    *,
    topic: str,
    recipients: Iterable[Recipient] = (),
    subject: str,
    body: str = "",
    payload: Mapping[str, Any] | None = None,
    case_number: str = "",
    dedup_key_base: str,
    channels: Collection[str] = (Channel.INBOX, Channel.EMAIL),
    webhooks: bool = True,
) -> list[Message]:
    """The outbox rows `notify` writes for one event, checked and unsaved (see `write_messages`)."""
    _check(topic=topic, subject=subject, dedup_key_base=dedup_key_base, channels=channels)
    now = clock.now()
    rows: dict[str, Message] = {}
    for to in _addressed(recipients, topic=topic, channels=channels, webhooks=webhooks):
        key = _dedup_key(dedup_key_base, to.channel, to.identity)
        if key not in rows:
            rows[key] = Message(
                channel=to.channel, recipient=to.user,  # type: ignore[misc]  # the project's user model
                address=to.address, subscription=to.subscription,
                status=Status.SENT if to.delivered else Status.PENDING, sent_at=now if to.delivered else None,
                topic=topic, subject=subject, body=body, payload=dict(payload or {}), case_number=case_number,
                dedup_key=key, created_at=now, next_attempt_at=now)
    return list(rows.values())


@dataclass(frozen=True)
class _To:
    """One recipient on one channel."""

    channel: str
    identity: str  # what the dedup key is made of: the same identity on the same event is told once
    user: AbstractBaseUser | None = None
    address: str = ""
    subscription: WebhookSubscription | None = None
    delivered: bool = False  # inbox rows are delivered by the commit itself


def _addressed(recipients: Iterable[Recipient], *, topic: str, channels: Collection[str],
               webhooks: bool) -> Iterable[_To]:
    """Each recipient on each channel it has an address for, then the matching webhook subscriptions."""
    for recipient in recipients:
        if isinstance(recipient, EmailAddress):
            address = _checked_email(recipient.address)
            yield _To(Channel.EMAIL, f"email:{address.lower()}", address=address)
        elif isinstance(recipient, PhoneNumber):
            number = _checked_phone(recipient.number)
            yield _To(Channel.SMS, f"sms:{number}", address=number)
        elif isinstance(recipient, AbstractBaseUser):
            if not recipient.is_active:
                continue  # a deactivated account is not told anything
            if Channel.INBOX in channels:
                yield _To(Channel.INBOX, f"user:{recipient.pk}", user=recipient, delivered=True)
            email = (getattr(recipient, "email", "") or "").strip()
            if Channel.EMAIL in channels and email:
                yield _To(Channel.EMAIL, f"email:{email.lower()}", user=recipient, address=email)
            phone = _user_phone(recipient) if Channel.SMS in channels else ""
            if phone and _PHONE.match(phone):
                yield _To(Channel.SMS, f"sms:{phone}", user=recipient, address=phone)
        else:
            raise InvalidInput("invalid_recipient", f"not a recipient: {type(recipient).__name__}",
                               field="recipients")
    if webhooks:
        for subscription in active_subscriptions():
            if subscription.matches(topic):
                yield _To(Channel.WEBHOOK, f"webhook:{subscription.pk}", subscription=subscription)


class OutboxBatch:
    """The outbox rows of many events new in the caller's transaction (one batch of the deadline
    sweep), kept as database values and inserted together by `write` (COPY on PostgreSQL) with
    no model object per row. The rows are the ones `notify` would write for each event; as the
    events are new, none of their rows can exist yet, so no row is checked for a duplicate key."""

    FIELDS = ("uuid", "channel", "recipient", "address", "subscription", "topic", "subject", "body", "payload",
              "case_number", "dedup_key", "status", "attempts", "next_attempt_at", "locked_until", "claimed_by",
              "last_error", "created_at", "sent_at", "read_at")

    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.pending = False
        self.now = clock.now()

        def field(name: str) -> Field:
            found = Message._meta.get_field(name)
            assert isinstance(found, Field)
            return found

        self._uuid, self._address, self._payload = field("uuid"), field("address"), field("payload")
        self._now = field("created_at").get_db_prep_save(self.now, connection)
        # a staff member's address, encrypted once a batch: their rows carry their user id anyway
        self._user_tokens: dict[tuple[int, str], str] = {}

    def add(self, *, topic: str, recipients: Iterable[Recipient], subject: str, body: str = "",
            payload: Mapping[str, Any] | None = None, case_number: str = "", dedup_key_base: str,
            channels: Collection[str] = (Channel.INBOX, Channel.EMAIL), webhooks: bool = True) -> None:
        _check(topic=topic, subject=subject, dedup_key_base=dedup_key_base, channels=channels)
        payload_value = self._payload.get_db_prep_save(dict(payload or {}), connection)
        now, seen = self._now, set()
        for to in _addressed(recipients, topic=topic, channels=channels, webhooks=webhooks):
            key = _dedup_key(dedup_key_base, to.channel, to.identity)
            if key in seen:
                continue
            seen.add(key)
            self.pending |= not to.delivered
            self.rows.append((
                self._uuid.get_db_prep_save(uuid.uuid4(), connection), to.channel,
                to.user.pk if to.user is not None else None,
                self._token(to),
                to.subscription.pk if to.subscription is not None else None,
                topic, subject, body, payload_value, case_number, key,
                Status.SENT if to.delivered else Status.PENDING, 0, now, None, "", "", now,
                now if to.delivered else None, None))

    def _token(self, to: _To) -> str:
        if not to.address:
            return ""
        if to.user is None:  # a resident's own address: a token of its own on every row
            return self._address.get_db_prep_save(to.address, connection)
        key = (to.user.pk, to.address)
        if key not in self._user_tokens:
            self._user_tokens[key] = self._address.get_db_prep_save(to.address, connection)
        return self._user_tokens[key]

    def write(self) -> None:
        """Insert the rows in the caller's (open) transaction; one delivery task after commit."""
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError("the outbox is written in the transaction of its events")
        insert_rows(Message, self.FIELDS, self.rows)
        if self.pending:
            transaction.on_commit(lambda: _enqueue_delivery(None))
        self.rows, self.pending = [], False


def write_messages(messages: Sequence[Message], *, returning: bool = True) -> list[Message]:
    """Insert outbox rows (of one event or of many) in the caller's transaction, in one statement;
    a row whose dedup key exists already is dropped. Rows that need delivery get one delivery task
    after commit. Returns the rows written (read back); with `returning` off nothing is read back,
    the answer is [] and one delivery task for every due row is enqueued if any row needs it."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("notify() writes the outbox in the caller's transaction: call it inside "
                           "transaction.atomic(), in the same transaction as the event")
    if not messages:
        return []
    # a concurrent or earlier writer of the same event may have the key already: its row stands
    Message.objects.bulk_create(messages, ignore_conflicts=True)
    if not returning:
        if any(m.status == Status.PENDING for m in messages):
            transaction.on_commit(lambda: _enqueue_delivery(None))  # one task delivers every due row
        return []
    created = list(Message.objects.filter(uuid__in=[m.uuid for m in messages]).order_by("pk"))
    to_deliver = [m.pk for m in created if m.status == Status.PENDING]
    if to_deliver:
        transaction.on_commit(lambda: _enqueue_delivery(to_deliver))
    return created


def _active_subscriptions_now() -> list[WebhookSubscription]:
    return list(WebhookSubscription.objects.filter(is_active=True).only("pk", "topics"))


# the active webhook subscriptions, per process; forgotten when one changes (notify.signals)
_subscriptions: VersionedCache[list[WebhookSubscription]] = VersionedCache(
    "notify.webhooks", _active_subscriptions_now, lambda: settings.LOCATOR_CHECK_SECONDS)


def active_subscriptions() -> list[WebhookSubscription]:
    return _subscriptions.get()


def _check(*, topic: str, subject: str, dedup_key_base: str, channels: Collection[str]) -> None:
    if not _TOPIC.match(topic or "") or len(topic) > 100:
        raise InvalidInput("invalid_topic", "a topic is dotted lower-case words, e.g. case.dispatched",
                           field="topic")
    if not subject or len(subject) > 255 or "\n" in subject or "\r" in subject:
        raise InvalidInput("invalid_subject", "a subject is one line of 1 to 255 characters", field="subject")
    if not dedup_key_base:
        raise InvalidInput("invalid_dedup_key_base", "name the event so that a retry writes nothing twice",
                           field="dedup_key_base")
    unknown = set(channels) - set(USER_CHANNELS)
    if unknown:
        raise InvalidInput("invalid_channel", f"users are notified by inbox, email or sms, not {sorted(unknown)}",
                           field="channels")


def _checked_email(address: str) -> str:
    address = (address or "").strip()
    try:
        validate_email(address)
    except ValidationError:
        raise InvalidInput("invalid_email", "not an e-mail address", field="recipients") from None
    return address


def _checked_phone(number: str) -> str:
    number = normalise_phone(number or "")
    if not _PHONE.match(number):
        raise InvalidInput("invalid_phone", "not a phone number", field="recipients")
    return number


def _enqueue_delivery(message_ids: list[int] | None) -> None:
    from fengqiao.notify.tasks import deliver_outbox

    try:
        deliver_outbox.enqueue(message_ids=message_ids)
    except Exception:
        # the rows are committed; the periodic sweep delivers them
        logger.exception("could not enqueue delivery of %s notifications", len(message_ids) if message_ids else "due")


def inbox_mark_read(*, user: AbstractBaseUser, message_ids: Iterable[int], now: datetime | None = None) -> int:
    """Mark the user's own inbox messages read; ids of other users' messages are ignored (not found)."""
    return Message.objects.filter(
        pk__in=list(message_ids), recipient_id=user.pk, channel=Channel.INBOX, read_at__isnull=True,
    ).update(read_at=now or clock.now())


def message_retry(*, actor: AbstractBaseUser | None, message_ids: Sequence[int], now: datetime | None = None) -> int:
    """Give failed or dead rows a fresh set of attempts, due now. Sent rows are never sent again."""
    now = now or clock.now()
    with transaction.atomic():
        ids = list(Message.objects.filter(pk__in=message_ids, status__in=[Status.FAILED, Status.DEAD])
                   .values_list("pk", flat=True))
        count = Message.objects.filter(pk__in=ids).update(
            status=Status.PENDING, attempts=0, next_attempt_at=now, locked_until=None, claimed_by="",
        )
        if ids:
            transaction.on_commit(lambda: _enqueue_delivery(ids))
    logger.info("notifications requeued", extra={"count": count, "actor": getattr(actor, "pk", None)})
    return count


def outbox_purge(*, now: datetime | None = None, older_than_days: int | None = None) -> int:
    """Delete delivered and dead e-mail/webhook/SMS rows past retention (they hold addresses).

    Inbox rows are the users' own inbox and are kept.
    """
    days = older_than_days if older_than_days is not None else int(getattr(settings, "NOTIFY_RETENTION_DAYS", 180))
    cutoff = (now or clock.now()) - timedelta(days=days)
    deleted, _ = (Message.objects.exclude(channel=Channel.INBOX)
                  .filter(status__in=[Status.SENT, Status.DEAD], created_at__lt=cutoff).delete())
    return deleted


# -- delivering -----------------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0  # will be retried
    dead: int = 0  # gave up (permanent failure, or out of attempts)
    released: int = 0  # claimed but handed back unsent: the sweep ran out of lease time
    lost: int = 0  # sent, but another worker had taken the row over meanwhile (receivers dedupe)

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


def _lock_for_claim(queryset: QuerySet[Message]) -> QuerySet[Message]:
    """The claim's locking seam.

    PostgreSQL: lock the due rows and skip the ones another worker is claiming right now, so
    parallel workers take disjoint batches without waiting. SQLite has no row locks; its single
    writer lock (transactions begin IMMEDIATE, see settings) serialises claims. On both the claiming
    UPDATE re-checks that each row is still due, so a row is never claimed twice.
    """
    if connection.features.has_select_for_update_skip_locked:
        return queryset.select_for_update(skip_locked=True)
    return queryset


def _claim(*, now: datetime, limit: int, token: str, message_ids: Sequence[int] | None) -> list[Message]:
    """Take up to `limit` due rows: status=sending under a lease until now + lease; commit."""
    lease_ends = now + timedelta(seconds=lease_seconds())
    with transaction.atomic():
        due = Message.objects.filter(status__in=OPEN_STATUSES, next_attempt_at__lte=now)
        if message_ids is not None:
            due = due.filter(pk__in=message_ids)
        ids = list(_lock_for_claim(due.order_by("next_attempt_at", "pk")).values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        due.filter(pk__in=ids).update(
            status=Status.SENDING, claimed_by=token, locked_until=lease_ends, next_attempt_at=lease_ends,
            attempts=F("attempts") + 1,
        )
    return list(Message.objects.filter(pk__in=ids, status=Status.SENDING, claimed_by=token)
                .select_related("subscription").order_by("pk"))


def _bury_interrupted(*, now: datetime, message_ids: Sequence[int] | None) -> int:
    """Rows whose last allowed attempt was interrupted (lease ran out while sending) are dead.

    Without this a message that crashes the worker would be retried for ever.
    """
    rows = Message.objects.filter(status=Status.SENDING, next_attempt_at__lte=now, attempts__gte=max_attempts())
    if message_ids is not None:
        rows = rows.filter(pk__in=message_ids)
    return rows.update(status=Status.DEAD, locked_until=None, claimed_by="",
                       last_error="delivery was interrupted on the last allowed attempt (lease ran out)")


def _mark_sent(*, message: Message, token: str, at: datetime) -> bool:
    return bool(Message.objects.filter(pk=message.pk, status=Status.SENDING, claimed_by=token).update(
        status=Status.SENT, sent_at=at, locked_until=None, claimed_by="", last_error="",
    ))


def _mark_failed(*, message: Message, token: str, at: datetime, error: str, permanent: bool) -> Status:
    dead = permanent or message.attempts >= max_attempts()
    status = Status.DEAD if dead else Status.FAILED
    Message.objects.filter(pk=message.pk, status=Status.SENDING, claimed_by=token).update(
        status=status, next_attempt_at=at if dead else at + backoff(message.attempts),
        locked_until=None, claimed_by="", last_error=error[:2000],
    )
    return status


def _release(*, messages: Sequence[Message], token: str, at: datetime) -> int:
    return Message.objects.filter(pk__in=[m.pk for m in messages], status=Status.SENDING, claimed_by=token).update(
        status=Status.PENDING, attempts=F("attempts") - 1, next_attempt_at=at, locked_until=None, claimed_by="",
    )


def _claim_token() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def deliver_due(
    *, now: datetime | None = None, limit: int = 100, message_ids: Sequence[int] | None = None
) -> DeliveryReport:
    """Deliver up to `limit` due outbox rows (only `message_ids`, if given); safe to run in parallel.

    Call it outside a transaction: each claim commits before anything is sent. Its cost grows with
    the number of due rows, not with the size of the outbox.
    """
    def at() -> datetime:
        return now or clock.now()

    report = DeliveryReport()
    report.dead += _bury_interrupted(now=at(), message_ids=message_ids)
    token = _claim_token()
    courier = Courier()
    try:
        while report.claimed < limit:
            wanted = min(claim_batch_size(), limit - report.claimed)
            batch = _claim(now=at(), limit=wanted, token=token, message_ids=message_ids)
            if not batch:
                break
            report.claimed += len(batch)
            claimed_at = time.monotonic()
            for index, message in enumerate(batch):
                if time.monotonic() - claimed_at > lease_seconds() / 2:
                    # sending slower than the lease allows: hand the rest back rather than risk a
                    # second worker taking them over while we are still sending
                    report.released += _release(messages=batch[index:], token=token, at=at())
                    return report
                _deliver_one(message=message, token=token, courier=courier, at=at, report=report)
            if len(batch) < wanted:
                break  # that was all that was due
    finally:
        courier.close()
    return report


def _deliver_one(
    *, message: Message, token: str, courier: Courier, at: Callable[[], datetime], report: DeliveryReport
) -> None:
    try:
        courier.send(message)
    except (PermanentFailure, TemporaryFailure) as exc:
        error = f"{type(exc).__name__}: {exc}"
        permanent = isinstance(exc, PermanentFailure)
    except Exception as exc:  # a fault in a channel or backend: retry, and make it visible
        logger.exception("notification %s: unexpected error in the %s channel", message.pk, message.channel)
        error, permanent = f"{type(exc).__name__}: {exc}", False
    else:
        if _mark_sent(message=message, token=token, at=at()):
            report.sent += 1
        else:
            report.lost += 1
            logger.warning("notification %s was sent after its lease ran out; a repeat carries the same "
                           "delivery id %s", message.pk, message.uuid)
        return
    status = _mark_failed(message=message, token=token, at=at(), error=error, permanent=permanent)
    # mail and SMS errors may quote the address: logs get the kind of error, the row keeps the text
    shown = error if message.channel == Channel.WEBHOOK else error.split(":", 1)[0]
    if status == Status.DEAD:
        report.dead += 1
        logger.error("notification %s (%s, %s) is dead after %d attempts: %s",
                     message.pk, message.channel, message.topic, message.attempts, shown)
    else:
        report.failed += 1
        logger.warning("notification %s (%s, %s) failed, attempt %d: %s",
                       message.pk, message.channel, message.topic, message.attempts, shown)
