"""Inspections (巡查): recurring checklists walked by a grid's worker; a failed item becomes a case.

A template names what is inspected (the grids, or the assets of one type), how often, and its
ordered checklist items, each with the category a failed item is reported as (by code, so that a
template can exist before the catalogue is loaded). A round is one walk of a template in one grid
(or at one asset); each item gets one result.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from fengqiao.geo.models import AssetType
from fengqiao.org.models import BilingualName


class InspectionTarget(models.TextChoices):
    GRID = "grid", _("each grid")
    ASSET = "asset", _("each asset of a type")


class TimeOfDay(models.TextChoices):
    ANY = "any", _("any time")
    DAY = "day", _("in the daytime")
    NIGHT = "night", _("at night")


class InspectionTemplate(BilingualName):
    target = models.CharField(_("inspect"), max_length=10, choices=InspectionTarget.choices,
                              default=InspectionTarget.GRID)
    asset_type = models.CharField(_("asset type"), max_length=30, choices=AssetType.choices, blank=True,
                                  help_text=_("for templates that inspect assets"))
    area_prefix = models.CharField(_("region or grid code"), max_length=18, blank=True,
                                   help_text=_("empty: everywhere"))
    every_days = models.PositiveSmallIntegerField(_("every (days)"), default=7)
    time_of_day = models.CharField(_("time of day"), max_length=10, choices=TimeOfDay.choices,
                                   default=TimeOfDay.ANY)
    default_category_code = models.CharField(
        _("category code of failed items"), max_length=30, blank=True,
        help_text=_("used for items that name no category of their own"))
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("inspection template")
        verbose_name_plural = _("inspection templates")
        ordering = ["name_zh"]

    def __str__(self) -> str:
        return self.name


class InspectionItem(models.Model):
    template = models.ForeignKey(InspectionTemplate, on_delete=models.CASCADE, related_name="items",
                                 verbose_name=_("template"))
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    text_zh = models.CharField(_("Chinese text"), max_length=200)
    text_en = models.CharField(_("English text"), max_length=200, blank=True)
    category_code = models.CharField(_("category code"), max_length=30, blank=True,
                                     help_text=_("the category a failed item is reported as"))

    class Meta:
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")
        ordering = ["template", "order", "pk"]

    def __str__(self) -> str:
        return self.text

    @property
    def text(self) -> str:
        if (get_language() or "zh-hans").startswith("en") and self.text_en:
            return self.text_en
        return self.text_zh


class InspectionRound(models.Model):
    template = models.ForeignKey(InspectionTemplate, on_delete=models.PROTECT, related_name="rounds",
                                 verbose_name=_("template"))
    grid = models.ForeignKey("geo.Grid", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                             verbose_name=_("grid"))
    asset = models.ForeignKey("geo.Asset", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                              verbose_name=_("asset"))
    area_code = models.CharField(_("area code"), max_length=18, db_index=True)
    inspector = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                  verbose_name=_("inspector"))
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("inspection round")
        verbose_name_plural = _("inspection rounds")
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["template", "area_code", "started_at"], name="inspection_round_last")]

    def __str__(self) -> str:
        return f"{self.template} {self.area_code} {self.started_at:%Y-%m-%d}"

    def permission_target(self):
        from fengqiao.org.permissions import Target

        return Target(area_code=self.area_code)


class InspectionResult(models.Model):
    round = models.ForeignKey(InspectionRound, on_delete=models.CASCADE, related_name="results",
                              verbose_name=_("round"))
    item = models.ForeignKey(InspectionItem, on_delete=models.PROTECT, related_name="+", verbose_name=_("item"))
    passed = models.BooleanField(_("passed"))
    note = models.TextField(_("note"), blank=True)
    photo = models.FileField(_("photo"), upload_to="inspections/%Y/%m/", blank=True)
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                             verbose_name=_("case"))
    recorded_at = models.DateTimeField(_("recorded"))

    class Meta:
        verbose_name = _("inspection result")
        verbose_name_plural = _("inspection results")
        constraints = [models.UniqueConstraint(fields=["round", "item"], name="inspection_result_once")]

    def __str__(self) -> str:
        return f"{self.round_id}:{self.item_id} {'ok' if self.passed else 'failed'}"
