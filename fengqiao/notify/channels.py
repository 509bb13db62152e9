"""How one outbox row leaves the building: e-mail, signed webhook, SMS.

A channel either returns (the receiver accepted the message) or raises `DeliveryError`:
`TemporaryFailure` is retried with backoff, `PermanentFailure` makes the row dead at once.
Each attempt carries the row's delivery id so that a receiver can drop a repeat (see
docs/notifications.md): outbox delivery is at-least-once, never silently lost.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.serializers.json import DjangoJSONEncoder

from fengqiao.core import clock
from fengqiao.notify import sms
from fengqiao.notify.models import Channel, Message

logger = logging.getLogger("fengqiao.notify")

SIGNATURE_HEADER = "X-Fengqiao-Signature"
TIMESTAMP_HEADER = "X-Fengqiao-Timestamp"
DELIVERY_HEADER = "X-Fengqiao-Delivery"
TOPIC_HEADER = "X-Fengqiao-Topic"
IDEMPOTENCY_HEADER = "Idempotency-Key"


class DeliveryError(Exception):
    pass


class TemporaryFailure(DeliveryError):
    """Try again later (network error, timeout, non-2xx answer, SMTP trouble)."""


class PermanentFailure(DeliveryError):
    """Retrying cannot help (no address, subscription removed or switched off)."""


# -- e-mail ---------------------------------------------------------------------------------------


def message_id(message: Message) -> str:
    """The RFC 5322 Message-ID of a row: the same on every attempt, so mail software can drop repeats."""
    domain = getattr(settings, "NOTIFY_EMAIL_DOMAIN", "") or _domain_of(settings.DEFAULT_FROM_EMAIL)
    return f"<{message.uuid}@{domain}>"


def _domain_of(address: str) -> str:
    domain = address.rpartition("@")[2].strip(" >")
    return domain or "fengqiao.localhost"


def build_email(message: Message, *, connection: Any = None) -> EmailMessage:
    """The e-mail of an outbox row; `payload["attachments"]` ([{filename, content, content_type}],
    text content such as an iCalendar invitation) become attachments."""
    email = EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=getattr(settings, "NOTIFY_FROM_EMAIL", "") or settings.DEFAULT_FROM_EMAIL,
        to=[message.address],
        headers={"Message-ID": message_id(message), DELIVERY_HEADER: str(message.uuid), TOPIC_HEADER: message.topic},
        connection=connection,
    )
    for item in (message.payload or {}).get("attachments", []):
        if isinstance(item, dict) and item.get("filename") and isinstance(item.get("content"), str):
            email.attach(str(item["filename"]), item["content"], str(item.get("content_type") or "text/plain"))
    return email


# -- webhook --------------------------------------------------------------------------------------


def webhook_body(message: Message) -> bytes:
    """The JSON document POSTed to a subscription; identical on every attempt."""
    document = {
        "id": str(message.uuid),
        "topic": message.topic,
        "case_number": message.case_number,
        "subject": message.subject,
        "body": message.body,
        "payload": message.payload,
        "created_at": message.created_at.isoformat(),
    }
    return json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode()


def sign(*, secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256 over `<timestamp>.<raw body>` keyed with the subscription secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(*, secret: str, timestamp: str, body: bytes, signature: str, tolerance_seconds: int = 300,
           now: float | None = None) -> bool:
    """What a receiver does (and what the docs show): constant-time compare and a fresh timestamp."""
    try:
        age = abs((clock.now().timestamp() if now is None else now) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance_seconds and hmac.compare_digest(sign(secret=secret, timestamp=timestamp, body=body),
                                                            signature)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer we do not accept (it is not 2xx); it must not move a signed POST."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post_webhook(message: Message) -> int:
    subscription = message.subscription
    if subscription is None:
        raise PermanentFailure("the webhook subscription was deleted")
    if not subscription.is_active:
        raise PermanentFailure("the webhook subscription is switched off")
    if not subscription.url.lower().startswith(("http://", "https://")):
        raise PermanentFailure("the webhook URL is not http(s)")
    body = webhook_body(message)
    timestamp = str(int(clock.now().timestamp()))
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        subscription.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Fengqiao-Webhook/1",
            SIGNATURE_HEADER: sign(secret=subscription.secret, timestamp=timestamp, body=body),
            TIMESTAMP_HEADER: timestamp,
            DELIVERY_HEADER: str(message.uuid),
            IDEMPOTENCY_HEADER: str(message.uuid),
            TOPIC_HEADER: message.topic,
        },
    )
    timeout = float(getattr(settings, "NOTIFY_WEBHOOK_TIMEOUT", 5))
    try:
        with _opener.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:  # non-2xx (urllib raises for everything outside 200-299)
        exc.close()
        raise TemporaryFailure(f"HTTP {exc.code} from the receiver") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TemporaryFailure(f"receiver unreachable: {reason}") from None
    if not 200 <= status < 300:
        raise TemporaryFailure(f"HTTP {status} from the receiver")
    return status


# -- SMS ------------------------------------------------------------------------------------------


def send_sms(message: Message, *, backend: sms.BaseSMSBackend) -> None:
    if not message.address:
        raise PermanentFailure("no phone number")
    try:
        backend.send(sms.SMS(to=message.address, text=message.body or message.subject, reference=str(message.uuid)))
    except sms.SMSError as exc:
        raise TemporaryFailure(f"SMS gateway: {exc}") from None


# -- one sweep's set of open connections ----------------------------------------------------------


class Courier:
    """Sends rows for one sweep, opening the mail connection and SMS backend only when needed."""

    def __init__(self) -> None:
        self._mail: Any = None
        self._sms: sms.BaseSMSBackend | None = None

    def send(self, message: Message) -> None:
        if message.channel == Channel.EMAIL:
            self._send_email(message)
        elif message.channel == Channel.WEBHOOK:
            post_webhook(message)
        elif message.channel == Channel.SMS:
            if self._sms is None:
                self._sms = sms.get_backend()
            send_sms(message, backend=self._sms)
        elif message.channel == Channel.INBOX:
            return  # delivered by being committed
        else:
            raise PermanentFailure(f"unknown channel {message.channel!r}")

    def _send_email(self, message: Message) -> None:
        if not message.address:
            raise PermanentFailure("no e-mail address")
        if self._mail is None:
            self._mail = get_connection(fail_silently=False)
            try:
                self._mail.open()
            except Exception as exc:
                self._mail = None
                raise TemporaryFailure(f"mail server: {type(exc).__name__}: {exc}") from None
        try:
            sent = build_email(message, connection=self._mail).send(fail_silently=False)
        except Exception as exc:
            self.close()  # start from a fresh connection for the next row
            raise TemporaryFailure(f"mail server: {type(exc).__name__}: {exc}") from None
        if not sent:
            raise TemporaryFailure("the mail backend accepted nothing")

    def close(self) -> None:
        if self._mail is not None:
            try:
                self._mail.close()
            except Exception:  # closing a broken connection must not hide the real outcome
                logger.debug("closing the mail connection failed", exc_info=True)
            self._mail = None
