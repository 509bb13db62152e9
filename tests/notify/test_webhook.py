"""Signed webhooks against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from datetime import timedelta

import pytest
from django.db import transaction

from fengqiao.core import clock
from fengqiao.notify.channels import verify
from fengqiao.notify.models import Message, Status, WebhookSubscription
from fengqiao.notify.services import deliver_due, notify

SECRET = "s3cret-shared-with-the-receiver"


def _event(base: str = "case:C-7:dispatched:1") -> Message:
    with transaction.atomic():
        (row,) = notify(topic="case.dispatched", subject="案件已派遣", body="请处理。",
                        payload={"case_number": "C-7", "department": "城管"}, case_number="C-7",
                        dedup_key_base=base)
    return row


@pytest.fixture
def hook(db, receiver):
    return WebhookSubscription.objects.create(name="city", url=receiver.url, secret=SECRET, topics="case.*")


def test_webhook_is_signed_and_carries_the_delivery_id(hook, receiver):
    row = _event()
    assert deliver_due().sent == 1
    (request,) = receiver.requests
    assert request.path == "/hook"
    headers, body = request.headers, request.body

    # the receiver's own check, written from the documented scheme
    timestamp = headers["X-Fengqiao-Timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert headers["X-Fengqiao-Signature"] == f"sha256={expected}"
    assert verify(secret=SECRET, timestamp=timestamp, body=body, signature=headers["X-Fengqiao-Signature"])
    assert not verify(secret="wrong", timestamp=timestamp, body=body, signature=headers["X-Fengqiao-Signature"])
    assert not verify(secret=SECRET, timestamp=timestamp, body=body + b" ",
                      signature=headers["X-Fengqiao-Signature"])

    assert headers["X-Fengqiao-Delivery"] == headers["Idempotency-Key"] == str(row.uuid)
    assert headers["X-Fengqiao-Topic"] == "case.dispatched"
    assert headers["Content-Type"].startswith("application/json")
    document = json.loads(body)
    assert document["id"] == str(row.uuid)
    assert document["topic"] == "case.dispatched" and document["case_number"] == "C-7"
    assert document["payload"] == {"case_number": "C-7", "department": "城管"}
    assert document["subject"] == "案件已派遣"


def test_a_500_from_the_receiver_is_retried_with_the_same_delivery_id(hook, receiver):
    row = _event()
    receiver.statuses = [500]
    t0 = clock.now()
    report = deliver_due(now=t0)
    assert (report.failed, report.sent) == (1, 0)
    row.refresh_from_db()
    assert (row.status, row.attempts, row.next_attempt_at) == (Status.FAILED, 1, t0 + timedelta(minutes=1))
    assert "HTTP 500" in row.last_error

    assert deliver_due(now=t0 + timedelta(seconds=59)).claimed == 0
    assert deliver_due(now=t0 + timedelta(minutes=1)).sent == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == (Status.SENT, 2)
    first, second = receiver.requests
    assert first.headers["X-Fengqiao-Delivery"] == second.headers["X-Fengqiao-Delivery"] == str(row.uuid)
    assert first.body == second.body  # the same document; only the timestamp and signature are new
    assert deliver_due(now=t0 + timedelta(days=1)).claimed == 0
    assert len(receiver.requests) == 2


def test_a_redirect_is_not_followed_and_counts_as_failure(hook, receiver):
    row = _event()
    receiver.statuses = [302]
    assert deliver_due().failed == 1
    assert len(receiver.requests) == 1  # not re-sent to the Location
    row.refresh_from_db()
    assert "HTTP 302" in row.last_error


def test_an_unreachable_receiver_is_retried(db):
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    WebhookSubscription.objects.create(name="down", url=f"http://127.0.0.1:{port}/", topics="*")
    row = _event()
    assert deliver_due().failed == 1
    row.refresh_from_db()
    assert row.status == Status.FAILED and "unreachable" in row.last_error


def test_a_switched_off_subscription_gets_nothing(hook, receiver):
    row = _event()
    hook.is_active = False
    hook.save()
    assert deliver_due().dead == 1
    assert receiver.requests == []
    row.refresh_from_db()
    assert "switched off" in row.last_error


def test_verify_rejects_a_stale_timestamp():
    body = b"{}"
    signature = f"sha256={hmac.new(b'k', b'1000.' + body, hashlib.sha256).hexdigest()}"
    assert verify(secret="k", timestamp="1000", body=body, signature=signature, now=1100)
    assert not verify(secret="k", timestamp="1000", body=body, signature=signature, now=2000)
    assert not verify(secret="k", timestamp="soon", body=body, signature=signature, now=1000)
