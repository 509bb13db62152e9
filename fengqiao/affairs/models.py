"""Models of village affairs: notices and village news, village affairs disclosures with the
supervision committee's reviews and residents' questions, online appointments, and an append-only
event log of every change.

Scope: every object carries the area code of its region (a village or a township), so that the
permission resolver's region scopes apply as code prefixes.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from fengqiao.core.fields import EncryptedTextField
from fengqiao.org.models import BilingualName


def _english() -> bool:
    return (get_language() or "zh-hans").startswith("en")


# -- the event log -------------------------------------------------------------------------------
class AffairsEvent(models.Model):
    """One change to a notice, disclosure, service, slot or booking: who, when, from, to, why.

    Rows are only ever inserted (services write them; nothing updates or deletes them)."""

    subject_type = models.CharField(_("subject type"), max_length=20)
    subject_id = models.PositiveBigIntegerField(_("subject id"))
    action = models.CharField(_("action"), max_length=30)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    from_state = models.CharField(_("from"), max_length=20, blank=True)
    to_state = models.CharField(_("to"), max_length=20, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    payload = models.JSONField(_("payload"), default=dict, blank=True)
    at = models.DateTimeField(_("at"))

    class Meta:
        verbose_name = _("village affairs event")
        verbose_name_plural = _("village affairs events")
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["subject_type", "subject_id", "at"], name="affairs_event_subject")]

    def __str__(self) -> str:
        return f"{self.subject_type}:{self.subject_id} {self.action}"


# -- notices and village news --------------------------------------------------------------------
class NoticeKind(models.TextChoices):
    NOTICE = "notice", _("notice")
    NEWS = "news", _("village news")


class NoticeState(models.TextChoices):
    DRAFT = "draft", _("draft")
    PUBLISHED = "published", _("published")
    WITHDRAWN = "withdrawn", _("withdrawn")


class Notice(models.Model):
    """A notice (信息发布) or a piece of village news (村情动态) of a village or township."""

    kind = models.CharField(_("kind"), max_length=10, choices=NoticeKind.choices, default=NoticeKind.NOTICE)
    region = models.ForeignKey("geo.Region", verbose_name=_("village or township"), on_delete=models.PROTECT,
                               related_name="+")
    area_code = models.CharField(_("area code"), max_length=18, db_index=True, editable=False)
    title = models.CharField(pgettext_lazy("affairs", "title"), max_length=200)
    body = models.TextField(_("text"), help_text=_("plain text; blank lines separate paragraphs"))
    state = models.CharField(_("state"), max_length=10, choices=NoticeState.choices, default=NoticeState.DRAFT)
    pinned = models.BooleanField(_("pinned"), default=False)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("published by"), null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="+")
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("withdrawn by"), null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="+")
    withdraw_reason = models.TextField(_("why withdrawn"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"))
    updated_at = models.DateTimeField(_("updated at"))
    version = models.PositiveIntegerField(_("version"), default=1)

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-pinned", "-published_at", "-created_at"]
        indexes = [models.Index(fields=["state", "area_code", "published_at"], name="affairs_notice_public")]

    def __str__(self) -> str:
        return self.title

    def permission_target(self):
        from fengqiao.org.permissions import Target

        return Target(area_code=self.area_code)


class AttachmentKind(models.TextChoices):
    IMAGE = "image", _("image")
    DOCUMENT = "document", _("document (PDF)")


class Attachment(models.Model):
    """A file of a notice, a disclosure or one of its items. The original is kept for staff; the
    public copy (an image without its metadata, or the PDF as checked) is what residents download."""

    notice = models.ForeignKey(Notice, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments")
    disclosure = models.ForeignKey("Disclosure", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="attachments")
    item = models.ForeignKey("DisclosureItem", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="attachments")
    kind = models.CharField(_("kind"), max_length=10, choices=AttachmentKind.choices)
    name = models.CharField(_("file name"), max_length=120)
    content_type = models.CharField(_("content type"), max_length=60)
    size = models.PositiveIntegerField(_("size (bytes)"))
    sha256 = models.CharField(max_length=64, editable=False)
    original = models.FileField(_("original"), upload_to="affairs/original/%Y/%m/")
    public_copy = models.FileField(_("public copy"), upload_to="affairs/public/%Y/%m/")
    created_at = models.DateTimeField(_("added at"))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                name="affairs_attachment_one_owner",
                condition=(Q(notice__isnull=False, disclosure__isnull=True, item__isnull=True)
                           | Q(notice__isnull=True, disclosure__isnull=False)),
            ),
        ]

    def __str__(self) -> str:
        return self.name


# -- village affairs disclosure ------------------------------------------------------------------
class DisclosureKind(models.TextChoices):
    FINANCE = "finance", _("finances")
    PROJECT = "project", _("project spending")
    DECISION = "decision", _("decisions")


class DisclosureState(models.TextChoices):
    DRAFT = "draft", _("draft")
    SUBMITTED = "submitted", _("awaiting review")
    APPROVED = "approved", _("approved by the committee")
    OBJECTED = "objected", _("objection by the committee")
    PUBLISHED = "published", _("published")
    WITHDRAWN = "withdrawn", _("withdrawn")


class Disclosure(models.Model):
    """A village affairs disclosure (村务公开) of one village for one period and kind."""

    village = models.ForeignKey("geo.Region", verbose_name=_("village"), on_delete=models.PROTECT, related_name="+")
    area_code = models.CharField(_("area code"), max_length=18, db_index=True, editable=False)
    kind = models.CharField(_("kind"), max_length=10, choices=DisclosureKind.choices, default=DisclosureKind.FINANCE)
    year = models.PositiveSmallIntegerField(_("year"), validators=[MinValueValidator(2000)])
    quarter = models.PositiveSmallIntegerField(_("quarter"), default=0, help_text=_("1 to 4; 0 for the whole year"))
    title = models.CharField(pgettext_lazy("affairs", "title"), max_length=200)
    summary = models.TextField(_("summary"), blank=True)
    state = models.CharField(_("state"), max_length=10, choices=DisclosureState.choices,
                             default=DisclosureState.DRAFT)
    # the content the committee was asked to review (SHA-256 of title, summary, items and files)
    submitted_hash = models.CharField(max_length=64, blank=True, editable=False)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("published by"), null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="+")
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    withdraw_reason = models.TextField(_("why withdrawn"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"))
    updated_at = models.DateTimeField(_("updated at"))
    version = models.PositiveIntegerField(_("version"), default=1)

    class Meta:
        verbose_name = _("village affairs disclosure")
        verbose_name_plural = _("village affairs disclosures")
        ordering = ["-year", "-quarter", "kind", "-pk"]
        indexes = [models.Index(fields=["state", "area_code", "year", "quarter"], name="affairs_disclosure_public")]

    def __str__(self) -> str:
        return self.title

    def permission_target(self):
        from fengqiao.org.permissions import Target

        return Target(area_code=self.area_code)

    @property
    def period_label(self) -> str:
        if self.quarter:
            if _english():
                return f"{self.year} Q{self.quarter}"
            return f"{self.year}年第{self.quarter}季度"
        return str(self.year) if _english() else f"{self.year}年"


class ItemDirection(models.TextChoices):
    INCOME = "income", _("income")
    EXPENSE = "expense", _("expense")
    NONE = "", _("no amount direction")


class DisclosureItem(models.Model):
    """A line of a disclosure: an income or expense (finances), a project's spending or a decision."""

    disclosure = models.ForeignKey(Disclosure, on_delete=models.CASCADE, related_name="items")
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    direction = models.CharField(_("income or expense"), max_length=10, choices=ItemDirection.choices, blank=True,
                                 default="")
    title = models.CharField(pgettext_lazy("affairs", "item"), max_length=200)
    amount = models.DecimalField(_("amount (yuan)"), max_digits=14, decimal_places=2, null=True, blank=True,
                                 validators=[MinValueValidator(Decimal("0"))])
    note = models.TextField(_("details"), blank=True)

    class Meta:
        verbose_name = _("disclosure item")
        verbose_name_plural = _("disclosure items")
        ordering = ["disclosure", "order", "pk"]

    def __str__(self) -> str:
        return self.title


class ReviewDecision(models.TextChoices):
    APPROVED = "approved", _("approved")
    OBJECTION = "objection", _("objection")


class DisclosureReview(models.Model):
    """The village affairs supervision committee's review of the content submitted."""

    disclosure = models.ForeignKey(Disclosure, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("reviewer"), on_delete=models.PROTECT,
                                 related_name="+")
    decision = models.CharField(_("decision"), max_length=10, choices=ReviewDecision.choices)
    reason = models.TextField(_("reason"), blank=True)
    content_hash = models.CharField(max_length=64, editable=False)
    at = models.DateTimeField(_("reviewed at"))

    class Meta:
        verbose_name = _("committee review")
        verbose_name_plural = _("committee reviews")
        ordering = ["disclosure", "at", "pk"]

    def __str__(self) -> str:
        return f"{self.disclosure_id} {self.decision}"


class DisclosureQuestion(models.Model):
    """A resident's question on a disclosure (or one of its items), taken in as a consult case."""

    disclosure = models.ForeignKey(Disclosure, on_delete=models.CASCADE, related_name="questions")
    item = models.ForeignKey(DisclosureItem, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="questions")
    question = models.TextField(_("question"))
    case = models.OneToOneField("cases.Case", on_delete=models.PROTECT, related_name="+", verbose_name=_("case"))
    asked_at = models.DateTimeField(pgettext_lazy("affairs", "asked at"))

    class Meta:
        verbose_name = _("question on a disclosure")
        verbose_name_plural = _("questions on disclosures")
        ordering = ["-asked_at"]

    def __str__(self) -> str:
        return self.question[:50]


# -- online appointments -------------------------------------------------------------------------
class AppointmentService(BilingualName):
    """A service an office offers by appointment (certificates, social insurance, mediation …)."""

    department = models.ForeignKey("org.Department", verbose_name=_("office"), on_delete=models.PROTECT,
                                   related_name="+")
    area_code = models.CharField(_("area code"), max_length=18, db_index=True, editable=False)
    region = models.ForeignKey("geo.Region", verbose_name=_("region served"), on_delete=models.PROTECT,
                               related_name="+")
    description_zh = models.TextField(_("Chinese description"), blank=True)
    description_en = models.TextField(_("English description"), blank=True)
    documents_zh = models.TextField(_("documents to bring (Chinese)"), blank=True)
    documents_en = models.TextField(_("documents to bring (English)"), blank=True)
    location = models.CharField(_("where"), max_length=200, blank=True)
    duration_minutes = models.PositiveSmallIntegerField(_("duration (minutes)"), default=30,
                                                        validators=[MinValueValidator(5)])
    days_ahead = models.PositiveSmallIntegerField(_("slots generated for the next (days)"), default=14)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("appointment service")
        verbose_name_plural = _("appointment services")
        ordering = ["department__code", "name_zh"]

    def permission_target(self):
        from fengqiao.org.permissions import Target

        return Target(area_code=self.area_code, department_ids=frozenset({self.department_id}))

    @property
    def description(self) -> str:
        return self.description_en if _english() and self.description_en else self.description_zh

    @property
    def documents(self) -> str:
        return self.documents_en if _english() and self.documents_en else self.documents_zh


class WeeklySlot(models.Model):
    """One start time of the weekly pattern from which slots are generated on working days."""

    service = models.ForeignKey(AppointmentService, on_delete=models.CASCADE, related_name="weekly")
    weekday = models.PositiveSmallIntegerField(_("weekday"), help_text=_("0 Monday … 6 Sunday"))
    start = models.TimeField(_("starts"))
    capacity = models.PositiveSmallIntegerField(_("capacity"), default=1, validators=[MinValueValidator(1)])

    class Meta:
        verbose_name = _("weekly slot")
        verbose_name_plural = _("weekly slots")
        ordering = ["service", "weekday", "start"]
        constraints = [models.UniqueConstraint(fields=["service", "weekday", "start"], name="affairs_weekly_once")]

    def __str__(self) -> str:
        return f"{self.weekday} {self.start:%H:%M}"


class Slot(models.Model):
    service = models.ForeignKey(AppointmentService, on_delete=models.CASCADE, related_name="slots")
    start = models.DateTimeField(_("starts"))
    end = models.DateTimeField(_("ends"))
    capacity = models.PositiveSmallIntegerField(_("capacity"), validators=[MinValueValidator(1)])
    is_manual = models.BooleanField(_("added by hand"), default=False)
    is_active = models.BooleanField(_("open for booking"), default=True)

    class Meta:
        verbose_name = _("time slot")
        verbose_name_plural = _("time slots")
        ordering = ["service", "start"]
        constraints = [
            models.UniqueConstraint(fields=["service", "start"], name="affairs_slot_once"),
            models.CheckConstraint(name="affairs_slot_ends_after_start", condition=Q(end__gt=models.F("start"))),
        ]

    def __str__(self) -> str:
        return f"{self.service} {self.start:%Y-%m-%d %H:%M}"

    def permission_target(self):
        return self.service.permission_target()


class BookingState(models.TextChoices):
    BOOKED = "booked", _("booked")
    CANCELLED = "cancelled", _("cancelled")
    ATTENDED = "attended", _("attended")
    NO_SHOW = "no_show", _("did not come")


ACTIVE_BOOKING_STATES = (BookingState.BOOKED, BookingState.ATTENDED)


class Booking(models.Model):
    """An appointment. Name, phone and e-mail are personal data: encrypted, masked in lists."""

    code = models.CharField(_("booking code"), max_length=12, unique=True)
    slot = models.ForeignKey(Slot, verbose_name=_("time slot"), on_delete=models.PROTECT, related_name="bookings")
    service = models.ForeignKey(AppointmentService, verbose_name=_("service"), on_delete=models.PROTECT,
                                related_name="bookings")
    state = models.CharField(_("state"), max_length=10, choices=BookingState.choices, default=BookingState.BOOKED)
    name = EncryptedTextField(_("name"))
    phone = EncryptedTextField(_("phone"))
    phone_index = models.CharField(max_length=64, db_index=True, editable=False)
    email = EncryptedTextField(_("e-mail"), blank=True)
    note = models.TextField(_("note"), blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("account"), null=True, blank=True,
                             on_delete=models.SET_NULL, related_name="+")
    # the starts and ends of the slot, copied so that overlap checks need no join
    start = models.DateTimeField(_("starts"))
    end = models.DateTimeField(_("ends"))
    idempotency_key = models.CharField(max_length=100, blank=True, editable=False)
    created_at = models.DateTimeField(_("booked at"))
    updated_at = models.DateTimeField(_("updated at"))

    class Meta:
        verbose_name = _("booking")
        verbose_name_plural = _("bookings")
        ordering = ["start", "pk"]
        indexes = [models.Index(fields=["phone_index", "state", "start"], name="affairs_booking_phone")]
        constraints = [
            models.UniqueConstraint(fields=["idempotency_key"], condition=~Q(idempotency_key=""),
                                    name="affairs_booking_idempotency"),
        ]

    def __str__(self) -> str:
        return self.code

    def permission_target(self):
        return self.service.permission_target()
