"""The one place the platform asks what time it is, so tests and replays can move time."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
