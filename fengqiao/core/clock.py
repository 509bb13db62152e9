"""The one place the platform asks what time it is, so tests and replays can move time."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()


class travel:  # noqa: N801 - used as a context manager, like a function
    """Run code as if it were `moment` (for generating history, e.g. the demo's past cases)."""

    def __init__(self, moment: datetime):
        self.moment = moment

    def __enter__(self) -> datetime:
        global now
        self._saved = now
        moment = self.moment
        now = lambda: moment  # noqa: E731
        return moment

    def __exit__(self, *exc) -> None:
        global now
        now = self._saved
