"""Organisation: the four platforms, departments, staff profiles and role assignments with scope."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from fengqiao.core.models import TimeStampedModel


class BilingualName(models.Model):
    name_zh = models.CharField(_("Chinese name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        language = get_language() or "zh-hans"
        if language.startswith("en") and self.name_en:
            return self.name_en
        return self.name_zh


class Platform(BilingualName):
    """One of the four platforms (四平台); the rows are created by a migration."""

    PUBLIC_SAFETY = "public_safety"
    MARKET = "market"
    ENFORCEMENT = "enforcement"
    SERVICES = "services"

    code = models.SlugField(_("code"), max_length=30, unique=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("platform")
        verbose_name_plural = _("platforms")
        ordering = ["order", "code"]


class DepartmentKind(BilingualName):
    """A kind of department (urban management, market supervision, police station …).

    Categories name the kind that handles them by default; routing finds the department of that
    kind serving the case's region.
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)

    class Meta:
        verbose_name = _("department kind")
        verbose_name_plural = _("department kinds")
        ordering = ["code"]


class Department(BilingualName, TimeStampedModel):
    code = models.SlugField(_("code"), max_length=60, unique=True)
    kind = models.ForeignKey(
        DepartmentKind, verbose_name=_("kind"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="departments",
    )
    region = models.ForeignKey(
        "geo.Region", verbose_name=_("region served"), on_delete=models.PROTECT, related_name="departments",
        help_text=_("the township or county the department works at"),
    )
    platforms = models.ManyToManyField(Platform, verbose_name=_("platforms"), blank=True, related_name="departments")
    parent = models.ForeignKey(
        "self", verbose_name=_("parent department"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="children",
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["region__code", "code"]


class StaffProfile(TimeStampedModel):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="staff_profile"
    )
    display_name = models.CharField(_("display name"), max_length=100)
    phone = models.CharField(_("work phone"), max_length=30, blank=True)
    department = models.ForeignKey(
        Department, verbose_name=_("department"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="staff",
    )
    title = models.CharField(_("title"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("staff profile")
        verbose_name_plural = _("staff profiles")

    def __str__(self) -> str:
        return self.display_name


class Role(models.TextChoices):
    ADMINISTRATOR = "administrator", _("administrator")
    OPERATOR = "operator", _("command-centre operator")
    DISPATCHER = "dispatcher", _("dispatcher")
    HANDLER = "handler", _("department handler")
    GRID_WORKER = "grid_worker", _("grid worker")
    GRID_CHIEF = "grid_chief", _("grid chief")
    MEDIATOR = "mediator", _("mediator")
    MEDIATION_CENTRE = "mediation_centre", _("dispute-resolution centre staff")
    CLERK = "clerk", _("village or township clerk")
    COMMITTEE_MEMBER = "committee_member", _("village affairs supervision committee member")
    LEADER = "leader", _("leader")
    RESIDENT = "resident", _("resident")


class Assignment(TimeStampedModel):
    """A role held over one scope: a region subtree, a grid (and its micro-grids) or a department."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="assignments"
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    region = models.ForeignKey(
        "geo.Region", verbose_name=_("region scope"), null=True, blank=True, on_delete=models.CASCADE,
        related_name="assignments",
    )
    grid = models.ForeignKey(
        "geo.Grid", verbose_name=_("grid scope"), null=True, blank=True, on_delete=models.CASCADE,
        related_name="assignments",
    )
    department = models.ForeignKey(
        Department, verbose_name=_("department scope"), null=True, blank=True, on_delete=models.CASCADE,
        related_name="assignments",
    )
    full_time = models.BooleanField(_("full-time"), default=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")
        constraints = [
            models.CheckConstraint(
                name="assignment_one_scope",
                condition=(
                    Q(region__isnull=False, grid__isnull=True, department__isnull=True)
                    | Q(region__isnull=True, grid__isnull=False, department__isnull=True)
                    | Q(region__isnull=True, grid__isnull=True, department__isnull=False)
                ),
                violation_error_message=_("An assignment has exactly one scope: a region, a grid or a department."),
            ),
        ]
        indexes = [models.Index(fields=["user", "is_active"])]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.scope}"

    @property
    def scope(self):
        return self.region or self.grid or self.department


class ApiToken(models.Model):
    """A personal token for the REST API (``Authorization: Bearer fq_…``).

    Only the SHA-256 of the token is kept: the plain token is shown once, when it is created
    (``fengqiao api_token create``). ``prefix`` (its first characters) lets people tell tokens apart.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(_("name"), max_length=100)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("prefix"), max_length=8, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    revoked = models.BooleanField(_("revoked"), default=False)

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}… {self.name}"
