"""Models of the resident portal: public-form rate counters, e-mail subscriptions, resident preferences."""

from __future__ import annotations

from django.db import models


class RateCounter(models.Model):
    """POSTs of one client to one public form in one fixed time window (see portal.abuse).

    The client is kept as a keyed hash of its address, never the address itself.
    """

    scope = models.CharField(max_length=64)
    client = models.CharField(max_length=64)
    window_start = models.BigIntegerField(help_text="start of the window, seconds since the epoch")
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "client", "window_start"], name="portal_rate_unique")]
        indexes = [models.Index(fields=["window_start"], name="portal_rate_window")]

    def __str__(self) -> str:
        return f"{self.scope} {self.client[:8]} {self.window_start}: {self.count}"
