from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        abstract = True


class ConfigVersion(models.Model):
    """A counter per kind of configuration; processes compare it to know when to reload caches."""

    key = models.CharField(_("key"), max_length=50, unique=True)
    version = models.PositiveBigIntegerField(_("version"), default=0)

    class Meta:
        verbose_name = _("configuration version")
        verbose_name_plural = _("configuration versions")

    def __str__(self) -> str:
        return f"{self.key}={self.version}"


class CalendarDay(models.Model):
    """An administrator's override of the working calendar for one date.

    The holiday package covers the years whose State Council notice it knows; for later years (or a
    local holiday) an administrator records the date here: a holiday, or an adjusted working day.
    """

    date = models.DateField(_("date"), unique=True)
    is_workday = models.BooleanField(_("is a working day"))
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class PersonalDataAccess(models.Model):
    """Every time someone is shown personal data in full: who, what, when and why (DESIGN §9)."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("who"), on_delete=models.PROTECT, related_name="+")
    subject = models.CharField(_("what"), max_length=100, help_text=_("e.g. case 330681110-20261123-0001"))
    fields = models.CharField(_("fields"), max_length=200)
    reason = models.CharField(_("why"), max_length=300)
    at = models.DateTimeField(_("when"), db_index=True)

    class Meta:
        verbose_name = _("personal data access")
        verbose_name_plural = _("personal data accesses")
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.subject}"
