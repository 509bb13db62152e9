"""The notification outbox and the webhook subscriptions it fans out to.

One table, `Message`, is both the outbox and the in-app inbox: an inbox message is a row with
channel=inbox that is delivered the moment the writer's transaction commits (it is written with
status=sent), so the inbox is read straight from these rows and needs no second table or worker hop.
"""

from __future__ import annotations

import fnmatch
import re
import secrets
import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.core import clock
from fengqiao.core.fields import EncryptedTextField


class Channel(models.TextChoices):
    INBOX = "inbox", _("in-app inbox")
    EMAIL = "email", _("e-mail")
    WEBHOOK = "webhook", _("webhook")
    SMS = "sms", _("SMS")


class Status(models.TextChoices):
    PENDING = "pending", _("pending")
    SENDING = "sending", _("sending")
    SENT = "sent", _("sent")
    FAILED = "failed", _("failed, will retry")
    DEAD = "dead", _("dead, gave up")


# The statuses the delivery sweep looks at; with next_attempt_at they make the sweep's index.
OPEN_STATUSES = (Status.PENDING, Status.FAILED, Status.SENDING)


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


_TOPIC_SPLIT = re.compile(r"[\s,]+")


class WebhookSubscription(models.Model):
    """An external system that receives signed POSTs for the topics it subscribed to."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    url = models.URLField(
        _("URL"), max_length=500, validators=[URLValidator(schemes=["http", "https"])],
        help_text=_("the receiver's HTTPS endpoint; redirects are not followed"),
    )
    secret = EncryptedTextField(
        _("signing secret"), default=_new_secret,
        help_text=_("shared with the receiver, which checks the X-Fengqiao-Signature header with it; "
                    "kept encrypted in the database"),
    )
    topics = models.TextField(
        _("topics"), blank=True,
        help_text=_("topic patterns, separated by spaces, commas or new lines, e.g. case.* alert.raised; "
                    "* matches every topic; an empty list matches nothing"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now, editable=False)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def topic_patterns(self) -> list[str]:
        return [p for p in _TOPIC_SPLIT.split(self.topics.strip()) if p]

    def matches(self, topic: str) -> bool:
        return any(fnmatch.fnmatchcase(topic, pattern) for pattern in self.topic_patterns())


class Message(models.Model):
    """One notification to one recipient on one channel: the outbox row and its delivery state."""

    uuid = models.UUIDField(
        _("delivery id"), default=uuid.uuid4, unique=True, editable=False,
        help_text=_("sent with every attempt (Message-ID, X-Fengqiao-Delivery) so receivers can drop repeats"),
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recipient"), null=True, blank=True,
        on_delete=models.CASCADE, related_name="notify_messages", db_index=False,  # notify_msg_inbox_idx leads with it
    )
    address = EncryptedTextField(
        _("address"), blank=True,
        help_text=_("e-mail address or phone number, captured when the message was written; personal data, "
                    "kept encrypted in the database"),
    )
    subscription = models.ForeignKey(
        WebhookSubscription, verbose_name=_("webhook subscription"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="messages", db_index=False,
    )
    topic = models.CharField(_("topic"), max_length=100, help_text=_("e.g. case.dispatched"))
    subject = models.CharField(_("subject"), max_length=255)
    body = models.TextField(_("body"), blank=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    case_number = models.CharField(_("case number"), max_length=40, blank=True)
    dedup_key = models.CharField(  # unique: Meta.constraints
        _("deduplication key"), max_length=64, editable=False,
        help_text=_("keyed hash of event, channel and recipient: the same notification is written once"),
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(
        _("next attempt at"), default=clock.now,
        help_text=_("when the sweep looks at the row next; while sending, when the lease runs out"),
    )
    locked_until = models.DateTimeField(_("lease ends at"), null=True, blank=True)
    claimed_by = models.CharField(_("claimed by"), max_length=100, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created at"), default=clock.now, editable=False)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True, help_text=_("inbox messages only"))

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        # a sweep writes thousands of rows at once: only the indexes a query uses, and no LIKE-pattern
        # copies (see cases.Case.Meta)
        constraints = [models.UniqueConstraint(fields=["dedup_key"], name="notify_msg_dedup_key_unique")]
        indexes = [
            models.Index(fields=["case_number"], name="notify_msg_case_idx"),
            models.Index(fields=["subscription"], name="notify_msg_subscription_idx",
                         condition=models.Q(subscription__isnull=False)),
            # the delivery sweep: status IN (pending, failed, sending) AND next_attempt_at <= now
            models.Index(fields=["status", "next_attempt_at"], name="notify_msg_due_idx"),
            # a user's inbox and unread count
            models.Index(fields=["recipient", "channel", "read_at"], name="notify_msg_inbox_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} → {self.get_channel_display()} #{self.pk}"
