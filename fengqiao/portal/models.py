"""Models of the resident portal: public-form rate counters, e-mail subscriptions, resident preferences."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.core.fields import EncryptedTextField


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


class ResidentProfile(models.Model):
    """A resident's account on the portal: a plain Django user without staff flag or assignments."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="resident_profile")
    email_on_changes = models.BooleanField(_("e-mail me when my requests change"), default=True)
    created_at = models.DateTimeField(_("registered at"))

    class Meta:
        verbose_name = _("resident account")
        verbose_name_plural = _("resident accounts")

    def __str__(self) -> str:
        return str(self.user)


class Subscription(models.Model):
    """An e-mail address that asked to hear about one public case or one grid (double opt-in)."""

    class Kind(models.TextChoices):
        CASE = "case", _("case")
        GRID = "grid", _("grid")

    email = EncryptedTextField(_("e-mail"))
    email_index = models.CharField(max_length=64, db_index=True, editable=False)
    kind = models.CharField(_("kind"), max_length=4, choices=Kind.choices)
    case = models.ForeignKey("cases.Case", verbose_name=_("case"), null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    grid = models.ForeignKey("geo.Grid", verbose_name=_("grid"), null=True, blank=True, on_delete=models.CASCADE,
                             related_name="+")
    # the reporter's own request (may be private): asked for on the report form
    own_request = models.BooleanField(default=False, editable=False)
    token = models.CharField(max_length=43, unique=True, editable=False)
    language = models.CharField(max_length=10, default="zh-hans")
    created_at = models.DateTimeField(_("asked at"))
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    class Meta:
        verbose_name = _("e-mail subscription")
        verbose_name_plural = _("e-mail subscriptions")
        constraints = [
            models.UniqueConstraint(fields=["email_index", "case"], name="portal_sub_case_unique",
                                    condition=models.Q(case__isnull=False)),
            models.UniqueConstraint(fields=["email_index", "grid"], name="portal_sub_grid_unique",
                                    condition=models.Q(grid__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.case_id or self.grid_id}"

    @property
    def active(self) -> bool:
        return self.confirmed_at is not None and self.cancelled_at is None


class MailCursor(models.Model):
    """How far the update mailer has read the case events (never mail the same event twice)."""

    name = models.CharField(max_length=30, unique=True)
    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name}: {self.last_event_id}"
