"""The case loop's data. Step 1 holds the category catalogue and its time limits."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.core.calendar import UNIT_LABELS, TimeUnit
from fengqiao.core.models import TimeStampedModel
from fengqiao.org.models import BilingualName


class Urgency(models.TextChoices):
    NORMAL = "normal", _("normal")
    URGENT = "urgent", _("urgent")
    CRITICAL = "critical", _("critical")


class Stage(models.TextChoices):
    """The stages of the loop that carry a deadline."""

    ACCEPT = "accept", _("intake")
    DISPATCH = "dispatch", _("dispatch")
    HANDLE = "handle", _("handling")
    VERIFY = "verify", _("verification")


class Category(BilingualName, TimeStampedModel):
    """A matter class (事项分类). Time limits are inherited from the parent when not set."""

    code = models.CharField(_("code"), max_length=30, unique=True)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    platform = models.ForeignKey(
        "org.Platform", verbose_name=_("platform"), on_delete=models.PROTECT, related_name="categories"
    )
    department_kind = models.ForeignKey(
        "org.DepartmentKind", verbose_name=_("default department kind"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="categories",
    )
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    order = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class TimeLimit(models.Model):
    category = models.ForeignKey(
        Category, verbose_name=_("category"), on_delete=models.CASCADE, related_name="time_limits"
    )
    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices, default=Stage.HANDLE)
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL)
    value = models.PositiveIntegerField(_("value"))
    unit = models.CharField(
        _("unit"), max_length=15, choices=[(u.value, UNIT_LABELS[u]) for u in TimeUnit], default=TimeUnit.WORKING_DAYS
    )

    class Meta:
        verbose_name = _("time limit")
        verbose_name_plural = _("time limits")
        constraints = [
            models.UniqueConstraint(fields=["category", "stage", "urgency"], name="timelimit_unique_per_stage"),
        ]
        ordering = ["category", "stage", "urgency"]

    def __str__(self) -> str:
        return f"{self.get_stage_display()} {self.get_urgency_display()}: {self.value} {self.get_unit_display()}"
