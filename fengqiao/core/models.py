from __future__ import annotations

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
