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



# ---------------------------------------------------------------------------------------------
# The case loop (DESIGN §7)
# ---------------------------------------------------------------------------------------------
from functools import cached_property  # noqa: E402

from django.conf import settings  # noqa: E402

from fengqiao.cases.states import OPEN_STATES, CaseAction, CaseState  # noqa: E402
from fengqiao.core.fields import EncryptedTextField  # noqa: E402


class Channel(models.TextChoices):
    GRID_WORKER = "grid_worker", _("grid worker")
    RESIDENT = "resident", _("resident")
    HOTLINE = "hotline", _("hotline")
    SENSOR = "sensor", _("sensor")
    API = "api", _("API")
    OPEN311 = "open311", _("Open311")
    IMPORT = "import", _("import")


class RequestType(models.TextChoices):
    """What a resident asks for (诉求类型)."""

    REPORT = "report", _("problem report")
    CONSULT = "consult", _("question")
    COMPLAINT = "complaint", _("complaint")
    SUGGESTION = "suggestion", _("suggestion")
    PRAISE = "praise", _("praise")


class Level(models.TextChoices):
    GRID = "grid", _("grid")
    VILLAGE = "village", _("village")
    TOWNSHIP = "township", _("township")
    COUNTY = "county", _("county")


LEVEL_ORDER = [Level.GRID, Level.VILLAGE, Level.TOWNSHIP, Level.COUNTY]


class DeadlineWarning(models.TextChoices):
    NONE = "", _("on time")
    YELLOW = "yellow", _("due soon")
    RED = "red", _("overdue")


class Case(models.Model):
    number = models.CharField(_("number"), max_length=40)  # unique: Meta.constraints
    # random and unguessable, unlike the number: what a resident follows the case with
    tracking_code = models.CharField(_("tracking code"), max_length=12, null=True, blank=True, editable=False)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    request_type = models.CharField(_("request type"), max_length=12, choices=RequestType.choices,
                                    default=RequestType.REPORT)
    category = models.ForeignKey(Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="cases",
                                 db_index=False)  # case_category_created leads with it
    platform = models.ForeignKey(
        "org.Platform", verbose_name=_("platform"), on_delete=models.PROTECT, related_name="cases"
    )
    grid = models.ForeignKey(
        "geo.Grid", verbose_name=_("grid"), null=True, blank=True, on_delete=models.PROTECT, related_name="cases"
    )
    region = models.ForeignKey(
        "geo.Region", verbose_name=_("region"), on_delete=models.PROTECT, related_name="cases"
    )
    # grid code, or region code when the point is in no grid: the one field scopes filter on
    area_code = models.CharField(_("area code"), max_length=18)
    asset = models.ForeignKey(
        "geo.Asset", verbose_name=_("asset"), null=True, blank=True, on_delete=models.SET_NULL, related_name="cases",
        db_index=False,
    )
    lon = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    description = models.TextField(_("description"))
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.NORMAL)
    is_public = models.BooleanField(_("public"), default=True)

    state = models.CharField(_("state"), max_length=20, choices=CaseState.choices, default=CaseState.REPORTED)
    state_before = models.CharField(max_length=20, choices=CaseState.choices, blank=True, editable=False)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, default=Level.TOWNSHIP)
    lead_department = models.ForeignKey(
        "org.Department", verbose_name=_("lead department"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="led_cases", db_index=False,  # case_dept_state_due leads with it
    )
    routing_reason = models.CharField(_("why routed here"), max_length=300, blank=True)
    duplicate_of = models.ForeignKey(
        "self", verbose_name=_("duplicate of"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="duplicates", db_index=False,
    )

    # reporter: optional, protected (DESIGN §9)
    reporter_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("reported by"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="reported_cases", db_index=False,
    )
    anonymous = models.BooleanField(_("anonymous"), default=False)
    reporter_name = EncryptedTextField(_("reporter name"), blank=True)
    reporter_phone = EncryptedTextField(_("reporter phone"), blank=True)
    reporter_phone_index = models.CharField(max_length=64, blank=True, editable=False)

    # deadlines of the running stage and the sweep's next look
    stage_started_at = models.DateTimeField(_("stage started"), null=True, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    warn_at = models.DateTimeField(_("warning from"), null=True, blank=True)
    next_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    warning = models.CharField(_("deadline warning"), max_length=10, choices=DeadlineWarning.choices, blank=True, default="")
    overdue_since = models.DateTimeField(_("overdue since"), null=True, blank=True)
    # the answer promised to a resident (within N working days), apart from the stages' deadlines
    answer_due_at = models.DateTimeField(_("answer due"), null=True, blank=True)
    answer_warn_at = models.DateTimeField(null=True, blank=True, editable=False)
    answer_warning = models.CharField(_("answer deadline warning"), max_length=10, choices=DeadlineWarning.choices,
                                      blank=True, default="")
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    escalated_for_overdue = models.BooleanField(default=False, editable=False)
    suspended_at = models.DateTimeField(null=True, blank=True, editable=False)
    extension_requested = models.BooleanField(_("extension requested"), default=False)
    extension_days = models.PositiveSmallIntegerField(default=0, editable=False)

    supervised = models.BooleanField(_("flagged supervision"), default=False)
    rework_count = models.PositiveSmallIntegerField(_("reworks"), default=0)
    reminder_count = models.PositiveSmallIntegerField(_("reminders"), default=0)
    reopen_count = models.PositiveSmallIntegerField(_("reopenings"), default=0)
    closed_on_time = models.BooleanField(_("closed on time"), null=True, blank=True)
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    rating_comment = models.TextField(_("rating comment"), blank=True)

    created_at = models.DateTimeField(_("reported at"))
    accepted_at = models.DateTimeField(_("accepted at"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched at"), null=True, blank=True)
    handled_at = models.DateTimeField(_("handled at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    rated_at = models.DateTimeField(_("rated at"), null=True, blank=True)
    updated_at = models.DateTimeField(_("updated at"))

    version = models.PositiveIntegerField(_("version"), default=1)
    last_event_seq = models.PositiveIntegerField(default=0, editable=False)
    last_event_hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-created_at"]
        # Every index is written on each insert and on each update that is not HOT (the sweep and
        # most transitions change indexed columns), so the table keeps only the ones a query uses:
        # unique constraints rather than unique fields and plain indexes rather than db_index,
        # because on PostgreSQL Django adds a second, LIKE-pattern index to each of those, and no
        # foreign-key index where a composite index leads with the column. The columns that are
        # mostly empty are indexed where set only.
        constraints = [
            models.UniqueConstraint(fields=["number"], name="case_number_unique"),
            models.UniqueConstraint(fields=["tracking_code"], name="case_tracking_code_unique"),
        ]
        indexes = [
            # the sweep reads only cases whose next look is due (partial on PostgreSQL)
            models.Index(fields=["next_due_at"], name="case_next_due", condition=models.Q(next_due_at__isnull=False)),
            models.Index(fields=["state", "area_code"], name="case_state_area"),
            models.Index(fields=["lead_department", "state", "due_at"], name="case_dept_state_due"),
            models.Index(fields=["area_code", "created_at"], name="case_area_created"),
            models.Index(fields=["category", "created_at"], name="case_category_created"),
            # the duplicate search: the same category near a point (its cost follows the cases of
            # that category nearby, not every case nearby)
            models.Index(fields=["category", "lon", "lat"], name="case_category_point"),
            # a scope's cases under an area-code prefix, open or not (LIKE 'prefix%'), and equality
            models.Index(fields=["area_code"], name="case_area_prefix", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["reporter_phone_index"], name="case_reporter_phone",
                         condition=~models.Q(reporter_phone_index="")),
            models.Index(fields=["reporter_user"], name="case_reporter_user",
                         condition=models.Q(reporter_user__isnull=False)),
            models.Index(fields=["asset"], name="case_asset", condition=models.Q(asset__isnull=False)),
            models.Index(fields=["duplicate_of"], name="case_duplicate_of",
                         condition=models.Q(duplicate_of__isnull=False)),
            # open cases only (partial on PostgreSQL and SQLite): their number follows the work in
            # hand, not the history. A department's inbox in deadline order:
            models.Index(fields=["lead_department", "due_at", "id"], name="case_open_dept_due",
                         condition=models.Q(state__in=sorted(OPEN_STATES))),
            # the map's pins, newest first:
            models.Index(fields=["created_at", "id"], name="case_open_created",
                         condition=models.Q(state__in=sorted(OPEN_STATES))),
            # the map's counts under an area-code prefix, from the index alone on PostgreSQL (a LIKE
            # prefix needs varchar_pattern_ops unless the database's collation is C):
            models.Index(fields=["area_code"], name="case_open_area", opclasses=["varchar_pattern_ops"],
                         include=["id", "warning", "supervised"],
                         condition=models.Q(state__in=sorted(OPEN_STATES))),
        ]

    def __str__(self) -> str:
        return self.number

    def permission_target(self) -> CaseTarget:
        """Area and responsible departments (lead and assisting), for the permission resolver."""
        cached = getattr(self, "_target", None)
        if cached is None or cached.key != (self.area_code, self.lead_department_id, self.version):
            cached = self._target = CaseTarget(self)
        return cached


class CaseTarget:
    """A case as the permission resolver sees it; assisting departments are read only when a
    department-scoped grant asks for them."""

    def __init__(self, case: Case):
        self.key = (case.area_code, case.lead_department_id, case.version)
        self.area_code = case.area_code
        self._case = case

    @cached_property
    def department_ids(self) -> frozenset[int]:
        case = self._case
        departments = {case.lead_department_id} if case.lead_department_id else set()
        if case.pk:
            departments |= set(CaseAssist.objects.filter(case_id=case.pk).values_list("department_id", flat=True))
        return frozenset(departments)


class CaseAssist(models.Model):
    """An assisting department on a joint case; it reports its part, the lead closes."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="assists")
    department = models.ForeignKey("org.Department", verbose_name=_("department"), on_delete=models.PROTECT,
                                   related_name="assisted_cases")
    requested_at = models.DateTimeField(_("requested at"))
    reported_at = models.DateTimeField(_("reported at"), null=True, blank=True)
    report = models.TextField(_("report"), blank=True)

    class Meta:
        verbose_name = _("assisting department")
        verbose_name_plural = _("assisting departments")
        constraints = [models.UniqueConstraint(fields=["case", "department"], name="case_assist_unique")]
        # the assists a department still owes (its inbox), however many it reported long ago
        indexes = [models.Index(fields=["department", "case"], name="case_assist_pending",
                                condition=models.Q(reported_at__isnull=True))]

    def __str__(self) -> str:
        return f"{self.case_id}:{self.department_id}"


class CaseEvent(models.Model):
    """Append-only, hash-chained record of everything that happened to a case."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="events")
    seq = models.PositiveIntegerField()
    action = models.CharField(_("action"), max_length=30, choices=CaseAction.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(_("actor"), max_length=100, blank=True)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    level = models.CharField(max_length=10, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    payload = models.JSONField(default=dict, blank=True)
    is_public = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("case event")
        verbose_name_plural = _("case events")
        ordering = ["case_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["case", "seq"], name="case_event_seq_unique")]

    def __str__(self) -> str:
        return f"{self.case_id}#{self.seq} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("case events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("case events are append-only")


class CaseAttachment(models.Model):
    class Kind(models.TextChoices):
        REPORT = "report", _("photo of the matter")
        AFTER = "after", _("photo after handling")
        VERIFY = "verify", _("verification photo")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    event = models.ForeignKey(CaseEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="attachments")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.REPORT)
    original = models.FileField(_("original"), upload_to="cases/original/%Y/%m/")
    public_copy = models.FileField(_("copy without metadata"), upload_to="cases/public/%Y/%m/")
    thumbnail = models.FileField(_("thumbnail"), upload_to="cases/thumbs/%Y/%m/")
    content_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField()
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.public_copy.name or ""


class RoutingRule(models.Model):
    """Category × area (× time of day) -> department and level. The most specific match wins."""

    category = models.ForeignKey(Category, verbose_name=_("category (and below)"), null=True, blank=True,
                                 on_delete=models.CASCADE, related_name="routing_rules")
    area_prefix = models.CharField(_("region or grid code"), max_length=18, blank=True,
                                   help_text=_("empty: everywhere"))
    hour_from = models.TimeField(_("from (time of day)"), null=True, blank=True)
    hour_to = models.TimeField(_("until (time of day)"), null=True, blank=True)
    department = models.ForeignKey("org.Department", verbose_name=_("department"), on_delete=models.CASCADE,
                                   related_name="routing_rules")
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, blank=True,
                             help_text=_("empty: the department's own level"))
    priority = models.IntegerField(_("priority"), default=0)
    is_active = models.BooleanField(_("active"), default=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("routing rule")
        verbose_name_plural = _("routing rules")
        ordering = ["-priority", "id"]

    def __str__(self) -> str:
        return f"{self.category or '*'} @ {self.area_prefix or '*'} -> {self.department}"


class PendingNotice(models.Model):
    """An event of the deadline sweep whose notice is still to be fanned out to its recipients
    (cases.notifications.fan_out_notices, the worker's next step after the sweep): written with the
    event, in its transaction, so that the sweep's batch writes one row a due case instead of one
    a recipient and channel."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    topic = models.CharField(max_length=40)
    event_seq = models.PositiveIntegerField()
    created_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.topic} #{self.event_seq} of case {self.case_id}"


class CaseSequence(models.Model):
    """Daily number sequence per region prefix, for human-readable case numbers."""

    key = models.CharField(max_length=30, unique=True)
    value = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class IdempotencyKey(models.Model):
    """A caller's key for a create, so that a retry returns what the first request made: one case
    (`case_report`), or a bulk intake's cases in their order (`case_import`, `case_ids`). One
    namespace for both: the same key on another request answers a conflict."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="+")
    key = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    case = models.ForeignKey(Case, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    case_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["actor", "key"], name="idempotency_key_unique"),
            # anonymous callers share one namespace of keys (NULL actors are distinct in a unique index)
            models.UniqueConstraint(fields=["key"], condition=models.Q(actor__isnull=True),
                                    name="idempotency_key_anonymous_unique"),
        ]

    def __str__(self) -> str:
        return self.key


class OpenCount(models.Model):
    """The open cases of one area code: how many, how many overdue (red), how many flagged.

    Kept by the database itself: triggers on the case table (migration 0007) write an
    `OpenCountChange` for every change of a case's state, area, warning or flag, so no code path
    can forget one; the worker folds the changes in here (`cases.counts.fold_changes`). A reader adds
    the changes not folded yet, so the figures are always exact. The map reads these instead of
    counting the open cases, whose number follows the backlog.
    """

    area_code = models.CharField(_("area code"), max_length=40, unique=True)
    open = models.IntegerField(_("open"), default=0)
    overdue = models.IntegerField(_("overdue"), default=0)
    flagged = models.IntegerField(_("flagged supervision"), default=0)

    class Meta:
        verbose_name = _("open-case count")
        verbose_name_plural = _("open-case counts")
        indexes = [models.Index(fields=["area_code"], name="open_count_prefix", opclasses=["varchar_pattern_ops"])]

    def __str__(self) -> str:
        return f"{self.area_code}: {self.open}"


class OpenCountChange(models.Model):
    """A change of `OpenCount` not folded in yet (+1/−1 rows written by the case table's triggers).

    Insert-only, so writers never wait on each other for a shared counter row."""

    area_code = models.CharField(max_length=40)
    open = models.IntegerField()
    overdue = models.IntegerField()
    flagged = models.IntegerField()

    class Meta:
        indexes = [models.Index(fields=["area_code"], name="open_count_change_prefix",
                                opclasses=["varchar_pattern_ops"])]

    def __str__(self) -> str:
        return f"{self.area_code}: {self.open:+d}"
