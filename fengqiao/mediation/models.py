"""Models of dispute mediation (矛盾纠纷多元化解).

Configuration (edited in the admin, loaded from fengqiao/mediation/data by a data migration):
`DisputeType`, `RiskRule`, `RiskThreshold`, `MediationDeadline`.
The mediation bodies and people: `MediationOrganisation`, `Room`, `Mediator`, `MediatorLink`,
`MediatorAbsence`.
A dispute and its file: `Dispute`, `Party`, `DisputeEvent` (append-only, hash-chained),
`RiskAssessment`, `MediationSession`, `SessionAttendance`, `Agreement`, `AgreementSignature`,
`Referral`, `FollowUp`, `MediatorRefusal`.

Personal data of parties (names, phones, ID numbers, addresses) is encrypted field by field, with
blind indexes for exact matches (conflict-of-interest checks, access codes).
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from fengqiao.core.calendar import UNIT_LABELS, TimeUnit
from fengqiao.core.fields import EncryptedTextField
from fengqiao.core.models import TimeStampedModel
from fengqiao.mediation.states import DisputeAction, DisputeState
from fengqiao.org.models import BilingualName
from fengqiao.org.permissions import Target

UNIT_CHOICES = [(u.value, UNIT_LABELS[u]) for u in TimeUnit]


# -- choices -------------------------------------------------------------------------------------
class Level(models.TextChoices):
    """The level at which a dispute is handled ("小事不出村，大事不出镇，矛盾不上交")."""

    VILLAGE = "village", _("village")
    TOWNSHIP = "township", _("township")
    COUNTY = "county", _("county")


LEVEL_ORDER = [Level.VILLAGE, Level.TOWNSHIP, Level.COUNTY]


class RiskLevel(models.TextChoices):
    LOW = "low", _("low")
    MEDIUM = "medium", _("medium")
    HIGH = "high", _("high")


RISK_ORDER = [RiskLevel.LOW, RiskLevel.MEDIUM, RiskLevel.HIGH]


class IntakeMode(models.TextChoices):
    APPLICATION = "application", _("application by a party")
    GRID_WORKER = "grid_worker", _("found by a grid worker")
    COURT = "court", _("referred by a court")
    POLICE = "police", _("referred by a police station")
    DEPARTMENT = "department", _("referred by a department")
    HOTLINE = "hotline", _("referred by the hotline")
    CASE = "case", _("from a case")


class OrganisationKind(models.TextChoices):
    VILLAGE_COMMITTEE = "village_committee", _("village people's mediation committee")
    TOWNSHIP_COMMITTEE = "township_committee", _("township people's mediation committee")
    TOWNSHIP_CENTRE = "township_centre", _("township dispute-resolution centre")
    COUNTY_CENTRE = "county_centre", _("county dispute-resolution centre")
    INDUSTRY = "industry", _("industry mediation body")
    LAWYERS_STUDIO = "lawyers_studio", _("lawyers' mediation studio")
    LAONIANGJIU = "laoniangjiu", _("\"Lao Niang Jiu\" mediation room")
    OTHER = "other", _("other mediation body")


class PartyRole(models.TextChoices):
    APPLICANT = "applicant", _("applicant")
    RESPONDENT = "respondent", _("respondent")


class PartyKind(models.TextChoices):
    PERSON = "person", _("person")
    ORGANISATION = "organisation", _("organisation")


class SessionMode(models.TextChoices):
    IN_PERSON = "in_person", _("in person")
    REMOTE = "remote", _("remote (meeting link)")


class SessionState(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    HELD = "held", _("held")
    CANCELLED = "cancelled", _("cancelled")


class AgreementState(models.TextChoices):
    DRAFT = "draft", _("being signed")
    EFFECTIVE = "effective", _("in force")
    VOID = "void", _("void")


class SignerKind(models.TextChoices):
    PARTY = "party", _("party")
    MEDIATOR = "mediator", _("mediator")


class ReferralRoute(models.TextChoices):
    """The ladder of ways on when mediation does not settle a dispute."""

    MEDIATION = "mediation", _("another mediation body")
    ARBITRATION = "arbitration", _("arbitration")
    ADMINISTRATIVE_RULING = "administrative_ruling", _("administrative ruling")
    RECONSIDERATION = "reconsideration", _("administrative reconsideration")
    LITIGATION = "litigation", _("litigation")


class FollowUpState(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    DONE = "done", _("done")
    CANCELLED = "cancelled", _("cancelled")


class FollowUpResult(models.TextChoices):
    PERFORMED = "performed", _("performed")
    PARTLY = "partly", _("partly performed")
    NOT_PERFORMED = "not_performed", _("not performed")


class Outcome(models.TextChoices):
    """How a dispute ended, for the statistics (blank while it is open)."""

    SETTLED = "settled", _("settled")
    FAILED = "failed", _("not settled")
    WITHDRAWN = "withdrawn", _("withdrawn")


# -- configuration ---------------------------------------------------------------------------------
class DisputeType(BilingualName, TimeStampedModel):
    """A kind of dispute (婚姻家庭, 邻里, 劳动争议 …). Also the mediators' specialties."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    parent = models.ForeignKey("self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children")
    description = models.TextField(_("description"), blank=True)
    order = models.PositiveIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("dispute type")
        verbose_name_plural = _("dispute types")
        ordering = ["order", "code"]


class RiskRule(BilingualName, TimeStampedModel):
    """One item of the risk checklist. `name_zh`/`name_en` are the question shown to the assessor.

    A ticked item adds `points`; with `per_unit` the answer is a number (e.g. people involved) and
    adds `points` for every `per_unit` of it, from `threshold` up. `level_floor` raises the level
    to at least that level whatever the points.
    """

    code = models.SlugField(_("code"), max_length=40, unique=True)
    points = models.PositiveSmallIntegerField(_("points"), default=0)
    level_floor = models.CharField(_("raises the level to at least"), max_length=10, choices=RiskLevel.choices,
                                   blank=True)
    numeric = models.BooleanField(_("answered with a number"), default=False)
    threshold = models.PositiveIntegerField(_("counts from"), default=1,
                                            help_text=_("for numeric items: the answer from which the item counts"))
    per_unit = models.PositiveIntegerField(_("points per how many"), default=0,
                                           help_text=_("for numeric items: add the points once per this many "
                                                       "(0: once)"))
    order = models.PositiveIntegerField(_("order"), default=0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("risk rule")
        verbose_name_plural = _("risk rules")
        ordering = ["order", "code"]


class RiskThreshold(models.Model):
    """The points from which a dispute's risk is at least `level`."""

    level = models.CharField(_("level"), max_length=10, choices=RiskLevel.choices, unique=True)
    min_points = models.PositiveSmallIntegerField(_("from points"))

    class Meta:
        verbose_name = _("risk threshold")
        verbose_name_plural = _("risk thresholds")
        ordering = ["min_points"]

    def __str__(self) -> str:
        return f"{self.get_level_display()} ≥ {self.min_points}"


class DeadlineStage(models.TextChoices):
    ASSIGN = "assign", _("assign a mediator")
    FIRST_SESSION = "first_session", _("first session")
    CONCLUDE = "conclude", _("conclude the mediation")


class MediationDeadline(models.Model):
    """How long a stage may take at a risk level, on the working calendar (high risk: shorter)."""

    risk_level = models.CharField(_("risk level"), max_length=10, choices=RiskLevel.choices)
    stage = models.CharField(_("stage"), max_length=20, choices=DeadlineStage.choices)
    value = models.PositiveIntegerField(_("value"))
    unit = models.CharField(_("unit"), max_length=15, choices=UNIT_CHOICES, default=TimeUnit.WORKING_DAYS)

    class Meta:
        verbose_name = _("mediation deadline")
        verbose_name_plural = _("mediation deadlines")
        constraints = [models.UniqueConstraint(fields=["risk_level", "stage"], name="mediation_deadline_unique")]
        ordering = ["risk_level", "stage"]

    def __str__(self) -> str:
        return f"{self.get_risk_level_display()} {self.get_stage_display()}: {self.value} {self.get_unit_display()}"


# -- organisations and mediators -------------------------------------------------------------------
class MediationOrganisation(BilingualName, TimeStampedModel):
    code = models.SlugField(_("code"), max_length=60, unique=True)
    kind = models.CharField(_("kind"), max_length=20, choices=OrganisationKind.choices)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    region = models.ForeignKey("geo.Region", verbose_name=_("region served"), on_delete=models.PROTECT,
                               related_name="mediation_organisations")
    specialties = models.ManyToManyField(DisputeType, verbose_name=_("dispute types"), blank=True,
                                         related_name="organisations")
    address = models.CharField(_("address"), max_length=200, blank=True)
    phone = models.CharField(_("office phone"), max_length=30, blank=True)
    meeting_link_template = models.CharField(
        _("remote meeting link"), max_length=300, blank=True,
        help_text=_("the link of the body's meeting room, e.g. https://meet.example.org/fq-{number}-{session}; "
                    "{number} and {session} are filled in. Empty: the site's FENGQIAO_MEDIATION_MEETING_LINK"),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("mediation organisation")
        verbose_name_plural = _("mediation organisations")
        ordering = ["region__code", "code"]


class Room(models.Model):
    organisation = models.ForeignKey(MediationOrganisation, verbose_name=_("organisation"), on_delete=models.CASCADE,
                                     related_name="rooms")
    name = models.CharField(_("name"), max_length=100)
    seats = models.PositiveSmallIntegerField(_("seats"), default=8)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("mediation room")
        verbose_name_plural = _("mediation rooms")
        ordering = ["organisation", "name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="mediation_room_unique")]

    def __str__(self) -> str:
        return f"{self.organisation.name} · {self.name}"


class Mediator(TimeStampedModel):
    """A mediator's profile. The user needs a mediator assignment (Role.MEDIATOR) to act."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT,
                                related_name="mediator")
    display_name = models.CharField(_("name"), max_length=100)
    organisation = models.ForeignKey(MediationOrganisation, verbose_name=_("organisation"), on_delete=models.PROTECT,
                                     related_name="mediators")
    region = models.ForeignKey("geo.Region", verbose_name=_("home area"), on_delete=models.PROTECT,
                               related_name="mediators", help_text=_("the village or township the mediator knows best"))
    specialties = models.ManyToManyField(DisputeType, verbose_name=_("specialties"), blank=True,
                                         related_name="mediators")
    languages = models.CharField(_("languages and dialects"), max_length=200, blank=True,
                                 help_text=_("comma-separated, e.g. 普通话, 诸暨话"))
    capacity = models.PositiveSmallIntegerField(_("open disputes at most"), default=8)
    is_available = models.BooleanField(_("available"), default=True)
    bio = models.TextField(_("about"), blank=True)
    # for conflict-of-interest checks: the mediator's own phone and ID number, as blind indexes only
    phone_index = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    id_number_index = models.CharField(max_length=64, blank=True, db_index=True, editable=False)

    class Meta:
        verbose_name = _("mediator")
        verbose_name_plural = _("mediators")
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name

    def language_list(self) -> list[str]:
        return [x.strip() for x in self.languages.replace("，", ",").split(",") if x.strip()]


class MediatorLink(models.Model):
    """A person or organisation the mediator declared a link to (relative, employer, neighbour …)."""

    mediator = models.ForeignKey(Mediator, verbose_name=_("mediator"), on_delete=models.CASCADE, related_name="links")
    name = EncryptedTextField(_("name"), blank=True)
    relation = models.CharField(_("relation"), max_length=100)
    phone_index = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    id_number_index = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    declared_at = models.DateTimeField(_("declared at"))

    class Meta:
        verbose_name = _("declared link")
        verbose_name_plural = _("declared links")

    def __str__(self) -> str:
        return f"{self.mediator_id}: {self.relation}"


class MediatorAbsence(models.Model):
    mediator = models.ForeignKey(Mediator, verbose_name=_("mediator"), on_delete=models.CASCADE,
                                 related_name="absences")
    starts_at = models.DateTimeField(_("from"))
    ends_at = models.DateTimeField(_("until"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("mediator absence")
        verbose_name_plural = _("mediator absences")
        ordering = ["starts_at"]

    def __str__(self) -> str:
        return f"{self.mediator_id}: {self.starts_at:%Y-%m-%d} – {self.ends_at:%Y-%m-%d}"


# -- the dispute -----------------------------------------------------------------------------------
class Dispute(models.Model):
    number = models.CharField(_("number"), max_length=40, unique=True)
    type = models.ForeignKey(DisputeType, verbose_name=_("type"), on_delete=models.PROTECT, related_name="disputes")
    title = models.CharField(_("summary"), max_length=200,
                             help_text=_("one line without personal data, e.g. wage arrears at a workshop"))
    facts = models.TextField(_("facts"))
    claims = models.TextField(_("claims"), blank=True)
    amount = models.DecimalField(_("amount at stake (yuan)"), max_digits=14, decimal_places=2, null=True, blank=True)
    intake_mode = models.CharField(pgettext_lazy("mediation", "intake"), max_length=20, choices=IntakeMode.choices)
    referred_by = models.CharField(_("referred by"), max_length=200, blank=True,
                                   help_text=_("the court, police station, department or hotline that referred it"))
    origin_case_number = models.CharField(_("origin case"), max_length=40, blank=True, db_index=True)
    region = models.ForeignKey("geo.Region", verbose_name=_("region"), on_delete=models.PROTECT,
                               related_name="disputes")
    grid = models.ForeignKey("geo.Grid", verbose_name=_("grid"), null=True, blank=True, on_delete=models.PROTECT,
                             related_name="disputes")
    # grid code, or region code: the one field scopes filter on
    area_code = models.CharField(_("area code"), max_length=18, db_index=True)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, default=Level.TOWNSHIP)
    organisation = models.ForeignKey(MediationOrganisation, verbose_name=_("mediation body"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="disputes")
    mediator = models.ForeignKey(Mediator, verbose_name=_("mediator"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="disputes")

    state = models.CharField(_("state"), max_length=20, choices=DisputeState.choices, default=DisputeState.REGISTERED)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, blank=True)
    risk_level = models.CharField(_("risk"), max_length=10, choices=RiskLevel.choices, blank=True)
    risk_points = models.PositiveSmallIntegerField(_("risk points"), default=0)

    # deadlines on the working calendar, from the risk level (MediationDeadline)
    assign_due_at = models.DateTimeField(_("assign by"), null=True, blank=True)
    session_due_at = models.DateTimeField(_("first session by"), null=True, blank=True)
    conclude_due_at = models.DateTimeField(_("conclude by"), null=True, blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("registered by"), null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("registered at"))
    assessed_at = models.DateTimeField(_("assessed at"), null=True, blank=True)
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    first_session_at = models.DateTimeField(_("first session at"), null=True, blank=True)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True,
                                      help_text=_("when the agreement came into force"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True,
                                    help_text=_("settled, failed, referred or withdrawn"))
    updated_at = models.DateTimeField(_("updated at"))

    version = models.PositiveIntegerField(_("version"), default=1)
    last_event_seq = models.PositiveIntegerField(default=0, editable=False)
    last_event_hash = models.CharField(max_length=64, blank=True, editable=False)

    class Meta:
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "area_code"], name="dispute_state_area"),
            models.Index(fields=["area_code", "created_at"], name="dispute_area_created"),
            models.Index(fields=["mediator", "state"], name="dispute_mediator_state"),
        ]

    def __str__(self) -> str:
        return self.number

    def permission_target(self) -> Target:
        return Target(area_code=self.area_code)


class Party(models.Model):
    """An applicant or respondent: a person or an organisation. Contact data is encrypted."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="parties")
    role = models.CharField(_("role"), max_length=12, choices=PartyRole.choices)
    kind = models.CharField(_("kind"), max_length=12, choices=PartyKind.choices, default=PartyKind.PERSON)
    order = models.PositiveSmallIntegerField(default=0)
    name = EncryptedTextField(_("name"))
    phone = EncryptedTextField(_("phone"), blank=True)
    id_number = EncryptedTextField(_("ID number / credit code"), blank=True)
    address = EncryptedTextField(_("address"), blank=True)
    representative = EncryptedTextField(_("legal representative or agent"), blank=True)
    phone_index = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    id_number_index = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    # the party's key to the resident portal: a keyed hash of a random code, never the code itself
    access_code_index = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    access_code_issued_at = models.DateTimeField(null=True, blank=True, editable=False)
    rating = models.PositiveSmallIntegerField(_("satisfaction"), null=True, blank=True,
                                              validators=[MinValueValidator(1), MaxValueValidator(5)])
    rating_comment = models.TextField(_("comment"), blank=True)
    rated_at = models.DateTimeField(_("rated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("party")
        verbose_name_plural = _("parties")
        ordering = ["dispute", "order", "pk"]

    def __str__(self) -> str:
        return f"{self.dispute_id}:{self.get_role_display()}#{self.order}"


class DisputeEvent(models.Model):
    """Append-only, hash-chained record of everything that happened to a dispute."""

    dispute = models.ForeignKey(Dispute, on_delete=models.PROTECT, related_name="events")
    seq = models.PositiveIntegerField()
    action = models.CharField(_("action"), max_length=30, choices=DisputeAction.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(_("actor"), max_length=100, blank=True)
    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    payload = models.JSONField(default=dict, blank=True)
    is_public = models.BooleanField(default=True, help_text=_("shown to the parties"))
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = _("dispute event")
        verbose_name_plural = _("dispute events")
        ordering = ["dispute_id", "seq"]
        constraints = [models.UniqueConstraint(fields=["dispute", "seq"], name="dispute_event_seq_unique")]

    def __str__(self) -> str:
        return f"{self.dispute_id}#{self.seq} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise RuntimeError("dispute events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("dispute events are append-only")


class RiskAssessment(models.Model):
    """One pass over the checklist: the answers, the points, the level and why."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="assessments")
    answers = models.JSONField(_("answers"), default=dict)
    points = models.PositiveSmallIntegerField(_("points"))
    level = models.CharField(_("level"), max_length=10, choices=RiskLevel.choices)
    reasons = models.JSONField(_("reasons"), default=list,
                               help_text=_("[{code, text_zh, text_en, points, floor}] of the items that counted"))
    note = models.TextField(_("note"), blank=True)
    assessed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("assessed by"), null=True,
                                    on_delete=models.SET_NULL, related_name="+")
    assessed_at = models.DateTimeField(_("assessed at"))

    class Meta:
        verbose_name = _("risk assessment")
        verbose_name_plural = _("risk assessments")
        ordering = ["dispute", "-assessed_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.dispute_id}: {self.level} ({self.points})"


class MediatorRefusal(models.Model):
    """A mediator a party asked not to have (or who withdrew): matching leaves them out."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="refusals")
    mediator = models.ForeignKey(Mediator, on_delete=models.CASCADE, related_name="refusals")
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dispute", "mediator"], name="mediator_refusal_unique")]

    def __str__(self) -> str:
        return f"{self.dispute_id} ≠ {self.mediator_id}"


class MediationSession(models.Model):
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="sessions")
    mediator = models.ForeignKey(Mediator, verbose_name=_("mediator"), on_delete=models.PROTECT,
                                 related_name="sessions")
    mode = models.CharField(_("mode"), max_length=10, choices=SessionMode.choices, default=SessionMode.IN_PERSON)
    room = models.ForeignKey(Room, verbose_name=_("room"), null=True, blank=True, on_delete=models.PROTECT,
                             related_name="sessions")
    place = models.CharField(_("place"), max_length=200, blank=True,
                             help_text=_("where, when not in one of the body's rooms"))
    meeting_link = models.URLField(_("meeting link"), max_length=300, blank=True)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    state = models.CharField(_("state"), max_length=10, choices=SessionState.choices, default=SessionState.SCHEDULED)
    minutes = models.TextField(pgettext_lazy("mediation", "minutes"), blank=True)
    cancel_reason = models.TextField(_("why cancelled"), blank=True)
    uid = models.CharField(max_length=100, unique=True, editable=False, help_text="iCalendar UID")
    sequence = models.PositiveIntegerField(default=0, editable=False, help_text="iCalendar SEQUENCE")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        verbose_name = _("mediation session")
        verbose_name_plural = _("mediation sessions")
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["mediator", "state", "starts_at"], name="session_mediator_time")]
        constraints = [models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")),
                                              name="session_ends_after_start")]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.starts_at:%Y-%m-%d %H:%M}"


class SessionAttendance(models.Model):
    session = models.ForeignKey(MediationSession, on_delete=models.CASCADE, related_name="attendance")
    party = models.ForeignKey(Party, on_delete=models.CASCADE, related_name="attendance")
    present = models.BooleanField(_("present"))
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "party"], name="session_attendance_unique")]

    def __str__(self) -> str:
        return f"{self.session_id}:{self.party_id}={self.present}"


class Agreement(models.Model):
    """A mediation agreement (人民调解法 Art. 29) rendered as a PDF; the hash is of the exact bytes.

    While it is being signed any change of content renders a new PDF with a new hash and voids the
    signatures given so far. It comes into force when every party and the mediator have signed.
    """

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="agreements")
    revision = models.PositiveSmallIntegerField(_("revision"), default=1)
    state = models.CharField(_("state"), max_length=10, choices=AgreementState.choices, default=AgreementState.DRAFT)
    # Art. 29: parties (from Party), facts and points in dispute, responsibilities, obligations,
    # manner and deadline of performance
    facts = models.TextField(_("facts"))
    points_in_dispute = models.TextField(_("points in dispute"))
    responsibilities = models.TextField(_("responsibilities"))
    obligations = models.TextField(_("agreed obligations"))
    performance_manner = models.TextField(_("manner of performance"))
    performance_deadline = models.DateField(_("performance deadline"))
    other_terms = models.TextField(_("other terms"), blank=True)
    # the exact PDF, encrypted at rest (base64 of the bytes: it names the parties)
    pdf = EncryptedTextField(_("PDF"), blank=True, editable=False)
    pdf_hash = models.CharField(_("SHA-256 of the PDF"), max_length=64, blank=True, editable=False)
    pdf_size = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    effective_at = models.DateTimeField(_("in force since"), null=True, blank=True)
    confirmation_deadline = models.DateField(_("judicial confirmation by"), null=True, blank=True,
                                             help_text=_("30 days after it came into force (人民调解法 Art. 33)"))
    confirmation_reminded_at = models.DateTimeField(null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("mediation agreement")
        verbose_name_plural = _("mediation agreements")
        ordering = ["dispute", "-revision"]
        constraints = [models.UniqueConstraint(fields=["dispute", "revision"], name="agreement_revision_unique")]

    def __str__(self) -> str:
        return f"{self.dispute_id} r{self.revision}"

    @property
    def pdf_bytes(self) -> bytes:
        import base64

        return base64.b64decode(self.pdf) if self.pdf else b""


class AgreementSignature(models.Model):
    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="signatures")
    kind = models.CharField(_("signer"), max_length=10, choices=SignerKind.choices)
    party = models.ForeignKey(Party, null=True, blank=True, on_delete=models.CASCADE, related_name="signatures")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                             related_name="+")
    signature_text = EncryptedTextField(_("typed signature"), blank=True)
    signature_image = EncryptedTextField(_("drawn signature (PNG, base64)"), blank=True)
    pdf_hash = models.CharField(_("signed PDF hash"), max_length=64)
    signed_at = models.DateTimeField(_("signed at"))
    voided_at = models.DateTimeField(_("voided at"), null=True, blank=True,
                                     help_text=_("the agreement changed after this signature"))

    class Meta:
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")
        ordering = ["agreement", "signed_at"]
        constraints = [
            models.UniqueConstraint(fields=["agreement", "party"], condition=Q(voided_at__isnull=True, party__isnull=False),
                                    name="agreement_party_signs_once"),
            models.UniqueConstraint(fields=["agreement"], condition=Q(voided_at__isnull=True, kind="mediator"),
                                    name="agreement_mediator_signs_once"),
        ]

    def __str__(self) -> str:
        return f"{self.agreement_id}:{self.kind}:{self.party_id or self.user_id}"


class Referral(models.Model):
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="referrals")
    route = models.CharField(_("referred to"), max_length=25, choices=ReferralRoute.choices)
    body = models.CharField(_("receiving body"), max_length=200)
    organisation = models.ForeignKey(MediationOrganisation, verbose_name=_("mediation body"), null=True, blank=True,
                                     on_delete=models.PROTECT, related_name="referrals_received")
    reason = models.TextField(_("reason"))
    handover_pdf = EncryptedTextField(_("file handed over (PDF, base64)"), blank=True, editable=False)
    handover_hash = models.CharField(max_length=64, blank=True, editable=False)
    referred_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    referred_at = models.DateTimeField(_("referred at"))

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-referred_at"]

    def __str__(self) -> str:
        return f"{self.dispute_id} → {self.get_route_display()}"

    @property
    def handover_bytes(self) -> bytes:
        import base64

        return base64.b64decode(self.handover_pdf) if self.handover_pdf else b""


class FollowUp(models.Model):
    """A follow-up visit (回访): did the parties do what the agreement says?"""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="follow_ups")
    agreement = models.ForeignKey(Agreement, null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="follow_ups")
    due_at = models.DateTimeField(pgettext_lazy("mediation", "due"))
    state = models.CharField(_("state"), max_length=10, choices=FollowUpState.choices,
                             default=FollowUpState.SCHEDULED)
    result = models.CharField(_("result"), max_length=15, choices=FollowUpResult.choices, blank=True)
    note = models.TextField(_("note"), blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    reminded_at = models.DateTimeField(_("reminder sent"), null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = _("follow-up visit")
        verbose_name_plural = _("follow-up visits")
        ordering = ["due_at"]
        indexes = [models.Index(fields=["state", "reminded_at", "due_at"], name="followup_due")]

    def __str__(self) -> str:
        return f"{self.dispute_id} {self.due_at:%Y-%m-%d}"


class DisputeSequence(models.Model):
    """Daily number sequence per region, for human-readable dispute numbers."""

    key = models.CharField(max_length=30, unique=True)
    value = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.key}={self.value}"


class DisputeIdempotencyKey(models.Model):
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
                              related_name="+")
    key = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["actor", "key"], name="dispute_idempotency_key_unique")]

    def __str__(self) -> str:
        return self.key
