"""The SMS seam keeps phone numbers out of logs; the admin lists, edits and retries."""

from __future__ import annotations

import logging

from django.db import transaction
from django.urls import reverse

from fengqiao.notify import sms
from fengqiao.notify.models import Message, Status, WebhookSubscription
from fengqiao.notify.services import EmailAddress, PhoneNumber, deliver_due, notify


def test_console_backend_never_logs_the_full_number(db, settings, caplog):
    """Masking follows fengqiao.core.masking (138****1234)."""
    settings.NOTIFY_SMS_BACKEND = "fengqiao.notify.sms.ConsoleSMSBackend"
    with transaction.atomic():
        notify(topic="case.closed", recipients=[PhoneNumber("+86 138 1234 1234")], subject="已结案",
               body="您反映的问题已办结。", dedup_key_base="e", webhooks=False)
    with caplog.at_level(logging.DEBUG):
        assert deliver_due().sent == 1
    assert "138****1234" in caplog.text and "您反映的问题已办结。" in caplog.text
    assert "13812341234" not in caplog.text


def test_failure_logs_do_not_quote_addresses(db, settings, caplog):
    settings.NOTIFY_SMS_BACKEND = "tests.notify.test_sms_and_admin.LeakySMSBackend"
    with transaction.atomic():
        notify(topic="case.closed", recipients=[PhoneNumber("13812341234")], subject="s", body="b",
               dedup_key_base="e", webhooks=False)
    with caplog.at_level(logging.DEBUG):
        assert deliver_due().failed == 1
    assert "13812341234" not in caplog.text
    assert "13812341234" in Message.objects.get().last_error  # kept on the row, for administrators


class LeakySMSBackend(sms.BaseSMSBackend):
    def send(self, message):
        raise sms.SMSError(f"number {message.to} is not reachable")


def test_admin_pages_and_retry_action(admin_client, settings):
    # plain HTTP and static files from the apps (the defaults expect HTTPS and collected, hashed files)
    settings.SECURE_SSL_REDIRECT = False
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    hook = WebhookSubscription.objects.create(name="city", url="https://example.org/hook", topics="case.*")
    with transaction.atomic():
        notify(topic="case.dispatched", recipients=[EmailAddress("resident@example.org"),
                                                    PhoneNumber("13812341234")],
               subject="s", body="b", case_number="C-1", dedup_key_base="e")
    Message.objects.update(status=Status.DEAD, attempts=6)

    changelist = admin_client.get(reverse("admin:notify_message_changelist"))
    assert changelist.status_code == 200
    page = changelist.content.decode()
    assert "138****1234" in page and "re***@example.org" in page
    assert "13812341234" not in page and "resident@example.org" not in page
    row = Message.objects.get(subscription=hook)
    assert admin_client.get(reverse("admin:notify_message_change", args=[row.pk])).status_code == 200
    sms_row = Message.objects.get(channel="sms")
    detail = admin_client.get(reverse("admin:notify_message_change", args=[sms_row.pk])).content.decode()
    assert "138****1234" in detail and "13812341234" not in detail
    assert admin_client.get(reverse("admin:notify_message_add")).status_code == 403

    response = admin_client.post(reverse("admin:notify_message_changelist"), {
        "action": "retry_now", "_selected_action": list(Message.objects.values_list("pk", flat=True)),
    })
    assert response.status_code == 302
    assert set(Message.objects.values_list("status", "attempts")) == {(Status.PENDING, 0)}

    assert admin_client.get(reverse("admin:notify_webhooksubscription_changelist")).status_code == 200
    response = admin_client.post(reverse("admin:notify_webhooksubscription_add"), {
        "name": "county", "url": "https://county.example/hook", "secret": "abc", "topics": "alert.*",
        "is_active": "on",
    })
    assert response.status_code == 302
    created = WebhookSubscription.objects.get(name="county")
    assert created.matches("alert.raised") and not created.matches("case.dispatched")
    response = admin_client.post(reverse("admin:notify_webhooksubscription_add"), {
        "name": "bad", "url": "ftp://county.example/hook", "secret": "abc", "topics": "*",
    })
    assert response.status_code == 200 and not WebhookSubscription.objects.filter(name="bad").exists()


def test_a_new_subscription_gets_a_random_secret(db):
    first = WebhookSubscription.objects.create(name="a", url="https://a.example/")
    second = WebhookSubscription.objects.create(name="b", url="https://b.example/")
    assert len(first.secret) >= 40 and first.secret != second.secret
    assert first.topic_patterns() == [] and not first.matches("case.dispatched")
