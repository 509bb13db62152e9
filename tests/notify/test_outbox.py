"""Writing the outbox: same transaction as the event, deduplicated, fanned out to webhooks; the inbox."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core import mail
from django.db import connection, transaction

from fengqiao.core.errors import InvalidInput
from fengqiao.notify.models import Channel, Message, Status, WebhookSubscription
from fengqiao.notify.selectors import inbox_for, unread_count
from fengqiao.notify.services import EmailAddress, PhoneNumber, deliver_due, inbox_mark_read, notify
from fengqiao.org.models import StaffProfile
from tests.factories import UserFactory


def _notify(**overrides):
    arguments = {"topic": "case.dispatched", "subject": "案件已派遣", "body": "请处理案件 C-1。",
                 "payload": {"case": "C-1"}, "case_number": "C-1", "dedup_key_base": "case:C-1:dispatched:1"}
    arguments.update(overrides)
    return notify(**arguments)


class Boom(Exception):
    pass


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_rolled_back_transaction_writes_and_sends_nothing(enqueued):
    user = UserFactory(email="handler@example.org")
    WebhookSubscription.objects.create(name="city", url="http://127.0.0.1:9/", topics="case.*")
    with pytest.raises(Boom), transaction.atomic():
        created = _notify(recipients=[user, EmailAddress("resident@example.org"), PhoneNumber("13812341234")])
        assert len(created) == 5  # inbox, 2 e-mails, SMS, webhook: written in the open transaction
        raise Boom
    assert Message.objects.count() == 0
    assert enqueued == []  # the on-commit delivery task never ran
    assert deliver_due().claimed == 0
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_notify_refuses_to_run_outside_a_transaction():
    with pytest.raises(RuntimeError, match="transaction"):
        _notify(recipients=[EmailAddress("a@example.org")])
    assert Message.objects.count() == 0


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_commit_enqueues_one_delivery_task_for_the_new_rows(enqueued):
    user = UserFactory(email="handler@example.org")
    with transaction.atomic():
        created = _notify(recipients=[user])
        assert enqueued == []  # not before commit
    (result,) = enqueued
    email = next(m for m in created if m.channel == Channel.EMAIL)
    assert result.task.name == "deliver_outbox"
    assert result.kwargs == {"message_ids": [email.pk]}  # the inbox row needs no delivery


def test_rows_per_recipient_and_channel(db):
    with_email = UserFactory(email="a@example.org")
    without_email = UserFactory(email="")
    with_phone = UserFactory(email="")
    profile = StaffProfile.objects.get(user=with_phone)
    profile.phone = "138 1234 1234"
    profile.save()
    with_phone.refresh_from_db()
    created = _notify(recipients=[with_email, without_email, with_phone],
                      channels=[Channel.INBOX, Channel.EMAIL, Channel.SMS])
    rows = {(m.recipient_id, m.channel) for m in created}
    assert rows == {(with_email.pk, "inbox"), (with_email.pk, "email"), (without_email.pk, "inbox"),
                    (with_phone.pk, "inbox"), (with_phone.pk, "sms")}
    sms_row = next(m for m in created if m.channel == Channel.SMS)
    assert sms_row.address == "13812341234"
    inbox_row = next(m for m in created if m.channel == Channel.INBOX)
    assert inbox_row.status == Status.SENT and inbox_row.sent_at is not None
    assert all(m.status == Status.PENDING for m in created if m.channel != Channel.INBOX)
    assert all(m.case_number == "C-1" and m.payload == {"case": "C-1"} for m in created)


def test_deactivated_users_are_not_notified(db):
    gone = UserFactory(email="gone@example.org", is_active=False)
    assert _notify(recipients=[gone], webhooks=False) == []


def test_dedup_key_makes_a_repeated_call_write_nothing(db):
    user = UserFactory(email="a@example.org")
    WebhookSubscription.objects.create(name="city", url="http://127.0.0.1:9/", topics="*")
    first = _notify(recipients=[user, PhoneNumber("13812341234")])
    assert len(first) == 4
    assert _notify(recipients=[user, PhoneNumber("+86 138-1234-1234")]) == []  # the writer retried
    assert Message.objects.count() == 4
    # the same address given twice, as a user and as an address, gets one e-mail
    assert _notify(recipients=[EmailAddress("A@example.org")], webhooks=False) == []
    # another event is another notification
    assert len(_notify(recipients=[user], dedup_key_base="case:C-1:dispatched:2", webhooks=False)) == 2
    assert Message.objects.count() == 6


def test_dedup_keys_carry_no_address(db):
    (row,) = _notify(recipients=[PhoneNumber("13812341234")], webhooks=False)
    assert "1381234" not in row.dedup_key and len(row.dedup_key) == 64


def test_addresses_and_webhook_secrets_are_encrypted_at_rest(db):
    WebhookSubscription.objects.create(name="city", url="https://a.example/", secret="hush-hush", topics="*")
    _notify(recipients=[PhoneNumber("13812341234"), EmailAddress("resident@example.org")])
    with connection.cursor() as cursor:
        cursor.execute("SELECT address FROM notify_message WHERE address <> ''")
        stored = [value for (value,) in cursor.fetchall()]
        cursor.execute("SELECT secret FROM notify_webhooksubscription")
        (secret,) = cursor.fetchone()
    assert len(stored) == 2 and not any("1381234" in v or "resident" in v for v in stored)
    assert "hush" not in secret
    assert sorted(Message.objects.exclude(channel=Channel.WEBHOOK).values_list("address", flat=True)) == [
        "13812341234", "resident@example.org"]
    assert WebhookSubscription.objects.get().secret == "hush-hush"


def test_webhook_fan_out_to_matching_active_subscriptions(db):
    cases = WebhookSubscription.objects.create(name="cases", url="https://a.example/", topics="case.*")
    exact = WebhookSubscription.objects.create(name="exact", url="https://b.example/",
                                               topics="alert.raised, case.dispatched")
    WebhookSubscription.objects.create(name="alerts", url="https://c.example/", topics="alert.*")
    WebhookSubscription.objects.create(name="off", url="https://d.example/", topics="*", is_active=False)
    WebhookSubscription.objects.create(name="empty", url="https://e.example/", topics="")
    created = _notify()
    assert {m.subscription for m in created} == {cases, exact}
    assert all(m.channel == Channel.WEBHOOK and m.recipient is None for m in created)
    assert _notify(dedup_key_base="other", webhooks=False) == []


@pytest.mark.parametrize(("field", "overrides"), [
    ("topic", {"topic": "Case Dispatched"}),
    ("subject", {"subject": ""}),
    ("subject", {"subject": "two\nlines"}),
    ("dedup_key_base", {"dedup_key_base": ""}),
    ("channels", {"channels": ["webhook"]}),
    ("recipients", {"recipients": [EmailAddress("not an address")]}),
    ("recipients", {"recipients": [PhoneNumber("call me")]}),
    ("recipients", {"recipients": ["someone"]}),
])
def test_bad_input_is_refused_and_writes_nothing(db, field, overrides):
    with pytest.raises(InvalidInput) as error:
        _notify(**overrides)
    assert error.value.errors[0].field == field
    assert Message.objects.count() == 0


def test_inbox_unread_count_and_mark_read(db):
    alice, bob = UserFactory(), UserFactory()
    mine = [_notify(recipients=[alice], dedup_key_base=f"e{i}", subject=f"消息{i}")[0] for i in range(3)]
    (bobs,) = _notify(recipients=[bob], dedup_key_base="e0")
    assert unread_count(user=alice) == 3 and unread_count(user=bob) == 1
    assert [m.subject for m in inbox_for(user=alice)] == ["消息2", "消息1", "消息0"]

    assert inbox_mark_read(user=alice, message_ids=[mine[0].pk, bobs.pk]) == 1  # bob's id is ignored
    assert unread_count(user=alice) == 2 and unread_count(user=bob) == 1
    assert inbox_mark_read(user=alice, message_ids=[mine[0].pk]) == 0  # already read
    assert list(inbox_for(user=alice, unread_only=True)) == [mine[2], mine[1]]
    assert inbox_for(user=AnonymousUser()).count() == 0 and unread_count(user=AnonymousUser()) == 0


def test_inbox_shows_only_inbox_rows(db):
    alice = UserFactory(email="alice@example.org")
    _notify(recipients=[alice])
    assert [m.channel for m in inbox_for(user=alice)] == ["inbox"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_outbox_batch_writes_the_rows_notify_would_write_and_they_are_delivered(enqueued):
    from fengqiao.notify.services import OutboxBatch

    user = UserFactory(email="handler@example.org")
    WebhookSubscription.objects.create(name="city", url="http://127.0.0.1:9/", topics="case.*")
    recipients = [user, user, EmailAddress("resident@example.org"), PhoneNumber("13812341234")]
    arguments = {"topic": "case.overdue", "subject": "案件超时", "body": "请尽快处理。", "payload": {"case": "C-2"},
                 "case_number": "C-2", "channels": (Channel.INBOX, Channel.EMAIL)}
    with transaction.atomic():
        _notify(recipients=recipients, dedup_key_base="case:C-2:overdue:1", **arguments)
    by_notify = set(Message.objects.values_list("pk", flat=True))
    with transaction.atomic():
        batch = OutboxBatch()
        batch.add(recipients=recipients, dedup_key_base="case:C-2:overdue:2", **arguments)
        batch.write()
        assert len(enqueued) == 1  # notify's; the batch's task waits for the commit
    by_batch = set(Message.objects.values_list("pk", flat=True)) - by_notify

    def rows(ids):
        return sorted(((m.channel, m.recipient_id, m.address, m.subscription_id, m.status, m.sent_at is not None,
                        m.topic, m.subject, m.body, m.payload, m.case_number, m.attempts)
                       for m in Message.objects.filter(pk__in=ids)), key=repr)

    assert rows(by_batch) == rows(by_notify)
    assert [r[0] for r in rows(by_batch)] == ["email", "email", "inbox", "sms", "webhook"]  # the user once a channel
    assert len(enqueued) == 2

    assert deliver_due().sent >= 2
    assert {m.to[0] for m in mail.outbox} >= {"handler@example.org", "resident@example.org"}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_an_outbox_batch_is_written_only_inside_a_transaction():
    from fengqiao.notify.services import OutboxBatch

    batch = OutboxBatch()
    batch.add(topic="case.overdue", recipients=[EmailAddress("a@example.org")], subject="s", dedup_key_base="k")
    with pytest.raises(RuntimeError, match="transaction"):
        batch.write()
    assert Message.objects.count() == 0
