"""The SMS backend seam: `NOTIFY_SMS_BACKEND` names a class with a `send(sms)` method.

No SMS gateway ships with the platform. A deployment writes a small backend for its provider
(Aliyun, Tencent Cloud, an operator's gateway...) and points the setting at it. The default logs
the text; the locmem backend keeps messages in `outbox` for tests, like Django's mail outbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string

from fengqiao.core.masking import mask_phone

logger = logging.getLogger("fengqiao.notify.sms")

DEFAULT_BACKEND = "fengqiao.notify.sms.ConsoleSMSBackend"


@dataclass(frozen=True)
class SMS:
    to: str
    text: str
    # the outbox row's delivery id: pass it to the gateway as the client reference where it has one,
    # so a repeated attempt can be recognised
    reference: str


class SMSError(Exception):
    """The gateway refused or could not be reached; the outbox retries later."""


class BaseSMSBackend:
    def send(self, sms: SMS) -> None:
        raise NotImplementedError


class ConsoleSMSBackend(BaseSMSBackend):
    """Logs the text with the phone number masked."""

    def send(self, sms: SMS) -> None:
        logger.info("SMS to %s (ref %s): %s", mask_phone(sms.to), sms.reference, sms.text)


outbox: list[SMS] = []


class LocmemSMSBackend(BaseSMSBackend):
    """Keeps every message in `fengqiao.notify.sms.outbox` (tests clear it in place)."""

    def send(self, sms: SMS) -> None:
        outbox.append(sms)


def get_backend() -> BaseSMSBackend:
    path = getattr(settings, "NOTIFY_SMS_BACKEND", DEFAULT_BACKEND) or DEFAULT_BACKEND
    return import_string(path)()
