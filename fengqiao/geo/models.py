"""Territory: the region tree (county > township > village), grids and managed assets.

Codes carry the tree: a township code starts with its county's 6 digits, a village code with its
township's 9, a grid code with its village's 12 and a micro-grid code with its grid's 15. A subtree
is therefore a code prefix, which is how scopes and filters are written.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from fengqiao.core.models import TimeStampedModel


class RegionLevel(models.TextChoices):
    COUNTY = "county", _("county")
    TOWNSHIP = "township", _("township / street")
    VILLAGE = "village", _("village / community")


CODE_LENGTH = {RegionLevel.COUNTY: 6, RegionLevel.TOWNSHIP: 9, RegionLevel.VILLAGE: 12}
PARENT_LEVEL = {RegionLevel.TOWNSHIP: RegionLevel.COUNTY, RegionLevel.VILLAGE: RegionLevel.TOWNSHIP}
GRID_CODE_LENGTH = 15
MICRO_GRID_CODE_LENGTH = 18


class Region(TimeStampedModel):
    code = models.CharField(_("code"), max_length=12, unique=True, help_text=_("GB/T 2260 style"))
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    level = models.CharField(_("level"), max_length=10, choices=RegionLevel.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    boundary = models.JSONField(_("boundary (GeoJSON, WGS84)"), null=True, blank=True)
    center_lon = models.FloatField(_("centre longitude"), null=True, blank=True)
    center_lat = models.FloatField(_("centre latitude"), null=True, blank=True)

    class Meta:
        verbose_name = _("region")
        verbose_name_plural = _("regions")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def clean(self) -> None:
        from fengqiao.geo.validation import region_errors

        errors = region_errors(code=self.code, level=self.level, parent=self.parent)
        if errors:
            raise ValidationError(errors)


class Grid(TimeStampedModel):
    code = models.CharField(_("code"), max_length=18, unique=True)
    name = models.CharField(_("name"), max_length=100)
    region = models.ForeignKey(
        Region, verbose_name=_("village / community"), on_delete=models.PROTECT, related_name="grids"
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent grid"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="micro_grids",
        help_text=_("set for a micro-grid"),
    )
    geometry = models.JSONField(_("boundary (GeoJSON, WGS84)"))
    area_m2 = models.FloatField(_("area (m²)"), default=0)
    households = models.PositiveIntegerField(_("estimated households"), default=0)
    min_lon = models.FloatField(editable=False, default=0)
    min_lat = models.FloatField(editable=False, default=0)
    max_lon = models.FloatField(editable=False, default=0)
    max_lat = models.FloatField(editable=False, default=0)

    class Meta:
        verbose_name = _("grid")
        verbose_name_plural = _("grids")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def is_micro_grid(self) -> bool:
        return self.parent_id is not None

    def clean(self) -> None:
        from fengqiao.geo.validation import grid_errors

        errors = grid_errors(code=self.code, region=self.region if self.region_id else None, parent=self.parent,
                             geometry=self.geometry)
        if errors:
            raise ValidationError(errors)


class AssetType(models.TextChoices):
    MANHOLE_COVER = "manhole_cover", _("manhole cover")
    HYDRANT = "hydrant", _("fire hydrant")
    STREETLIGHT = "streetlight", _("streetlight")
    NOTICEBOARD = "noticeboard", _("village noticeboard")
    BRIDGE = "bridge", _("bridge")
    PUMPING_STATION = "pumping_station", _("pumping station")
    WASTE_POINT = "waste_point", _("waste collection point")
    PLACE = "place", _("place")
    OTHER = "other", _("other")


class Asset(TimeStampedModel):
    """A managed public facility or place (部件), to which reports, sensors and QR codes attach."""

    code = models.CharField(_("code"), max_length=40, unique=True)
    type = models.CharField(_("type"), max_length=30, choices=AssetType.choices)
    name = models.CharField(_("name"), max_length=100, blank=True)
    lon = models.FloatField(_("longitude"))
    lat = models.FloatField(_("latitude"))
    grid = models.ForeignKey(
        Grid, verbose_name=_("grid"), null=True, blank=True, on_delete=models.SET_NULL, related_name="assets"
    )
    region = models.ForeignKey(
        Region, verbose_name=_("region"), null=True, blank=True, on_delete=models.SET_NULL, related_name="assets"
    )
    department = models.ForeignKey(
        "org.Department",
        verbose_name=_("responsible department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assets",
    )
    is_active = models.BooleanField(_("in service"), default=True)

    class Meta:
        verbose_name = _("asset")
        verbose_name_plural = _("assets")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.get_type_display()} {self.code}"
