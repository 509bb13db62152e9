"""Input and output schemas of the case API (fengqiao.cases.api), one input schema per operation.

Inputs forbid unknown fields (a misspelt field is an error, not silently ignored). Every action's
input carries ``version``: the version of the case the caller saw; a stale one answers 409.
Outputs are built from model objects by `case_item` and `case_detail`; personal data of the
reporter only ever leaves here masked (fengqiao.core.masking).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from django.utils import timezone
from ninja import Field, Schema
from pydantic import ConfigDict, field_validator
from pydantic_core import PydanticCustomError

from fengqiao.cases.models import Case, CaseAssist, CaseAttachment, CaseEvent
from fengqiao.cases.services import REASON_MAX
from fengqiao.cases.states import CaseState
from fengqiao.core.masking import mask_address, mask_name, mask_phone

MAX_PHOTOS = 9
CODE_MAX = 60
# reasons, results, notes, reports and comments: the services' limit, checked here so that the error
# names the field the caller sent (the services check them all under the name `reason`)
TEXT_MAX = REASON_MAX

UrgencyValue = Literal["normal", "urgent", "critical"]
RequestTypeValue = Literal["report", "consult", "complaint", "suggestion", "praise"]
# channels a caller of the API may claim; the others (resident portal, sensors, Open311, imports)
# have interfaces of their own
ApiChannel = Literal["api", "hotline", "grid_worker"]
# a batch comes from a system: an integration, the hotline's platform, a sensor platform, a file
BatchChannel = Literal["api", "hotline", "sensor", "open311", "import"]
BATCH_MAX = 500


def _no_nul(value: Any) -> Any:
    # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database
    if isinstance(value, str) and "\x00" in value:
        raise PydanticCustomError("null_character", "Text may not contain NUL characters.")
    if isinstance(value, list):
        for item in value:
            _no_nul(item)
    return value


class Checked(Schema):
    @field_validator("*", mode="after")
    @classmethod
    def _reject_nul(cls, value: Any) -> Any:
        return _no_nul(value)


class In(Checked):
    model_config = ConfigDict(extra="forbid")


# -- inputs: list filters and create ------------------------------------------------------------
class CaseListQuery(Checked):
    state: list[CaseState] | None = Field(None, description="repeatable: ?state=reported&state=accepted")
    category: str | None = Field(None, max_length=CODE_MAX, description="category code; includes its subcategories")
    platform: str | None = Field(None, max_length=CODE_MAX, description="platform code")
    area: str | None = Field(None, max_length=18, description="region or grid code: that subtree")
    department: str | None = Field(None, max_length=CODE_MAX, description="lead department code")
    overdue: bool | None = None
    supervised: bool | None = None
    created_from: datetime | None = Field(None, description="reported at or after (ISO 8601)")
    created_to: datetime | None = Field(None, description="reported before (ISO 8601)")
    q: str | None = Field(None, max_length=100, description="text in the number, description or address")
    cursor: str | None = Field(None, max_length=200, description="next_cursor of the previous page")
    limit: int = Field(50, ge=1, le=200)

    @field_validator("created_from", "created_to", mode="after")
    @classmethod
    def _aware_and_in_range(cls, value: datetime | None) -> datetime | None:
        """Without a zone: the platform's. Out of what the database can store: a validation error."""
        if value is None:
            return None
        try:
            if timezone.is_naive(value):
                value = timezone.make_aware(value)
            value.astimezone(UTC)
        except (OverflowError, ValueError):
            raise PydanticCustomError("datetime_out_of_range", "The date is out of range.") from None
        return value


class CaseRowIn(In):
    """One report: what a create takes, less its channel and photos (a row of a batch)."""

    category: str = Field(..., max_length=CODE_MAX, description="category code")
    description: str = Field(..., description="up to 2000 characters")
    lon: float | None = Field(None, description="WGS84 longitude; give lon and lat, or a grid")
    lat: float | None = Field(None, description="WGS84 latitude")
    grid: str | None = Field(None, max_length=30, description="grid code, when no point is given")
    address: str = Field("", max_length=300)
    urgency: UrgencyValue = "normal"
    request_type: RequestTypeValue = Field("report", description="report, consult, complaint, suggestion or praise")
    is_public: bool = True
    anonymous: bool = False
    reporter_name: str = Field("", max_length=100)
    reporter_phone: str = Field("", max_length=30)


class CaseCreateIn(CaseRowIn):
    channel: ApiChannel = "api"
    photos: list[str] = Field([], max_length=MAX_PHOTOS, description="JPEG, PNG or WebP images, base64-encoded")


class CaseBatchIn(In):
    channel: BatchChannel = Field("api", description="where the reports came from")
    rows: list[CaseRowIn] = Field(..., min_length=1, max_length=BATCH_MAX,
                                  description=f"the reports, 1 to {BATCH_MAX}; all are taken in or none")


# -- inputs: one per action --------------------------------------------------------------------
class ActionIn(In):
    version: int = Field(..., ge=1, strict=True, description="the version of the case you saw")


class OptionalReasonIn(ActionIn):
    reason: str = Field("", max_length=TEXT_MAX)


class ReasonIn(ActionIn):
    reason: str = Field(..., max_length=TEXT_MAX, description="required")


class AcceptIn(OptionalReasonIn):
    pass


class RejectIn(ReasonIn):
    pass


class RecategoriseIn(OptionalReasonIn):
    category: str = Field(..., max_length=CODE_MAX, description="the new category's code")


class MergeIn(OptionalReasonIn):
    master_number: str = Field(..., max_length=40, description="the number of the case this one duplicates")


class DispatchIn(OptionalReasonIn):
    department: str | None = Field(None, max_length=CODE_MAX,
                                   description="department code; empty: the routing suggestion")


class ReturnIn(ReasonIn):
    pass


class StartIn(ActionIn):
    pass


class ReportBackIn(ActionIn):
    result: str = Field(..., max_length=TEXT_MAX, description="what was done")
    photos: list[str] = Field([], max_length=MAX_PHOTOS, description="after-photos, base64-encoded")


class VerifyIn(ActionIn):
    passed: bool
    note: str = Field("", max_length=TEXT_MAX, description="required when the check failed")
    photos: list[str] = Field([], max_length=MAX_PHOTOS, description="verification photos, base64-encoded")


class AnswerIn(ActionIn):
    text: str = Field(..., max_length=TEXT_MAX, description="the answer, shown to the resident (required)")


class RateIn(ActionIn):
    rating: int = Field(..., ge=1, le=5, strict=True)
    comment: str = Field("", max_length=TEXT_MAX)


class ReopenIn(ReasonIn):
    pass


class RequestExtensionIn(ReasonIn):
    working_days: int = Field(..., ge=1, le=60, strict=True)


class DecideExtensionIn(OptionalReasonIn):
    approve: bool
    working_days: int | None = Field(None, ge=1, le=60, strict=True, description="empty: the days requested")


class SuspendIn(ReasonIn):
    pass


class ResumeIn(OptionalReasonIn):
    pass


class ParkIn(ReasonIn):
    pass


class UnparkIn(OptionalReasonIn):
    pass


class EscalateIn(ReasonIn):
    pass


class RequestAssistIn(OptionalReasonIn):
    departments: list[str] = Field(..., min_length=1, max_length=20, description="department codes")


class AssistReportIn(ActionIn):
    department: str = Field(..., max_length=CODE_MAX, description="your assisting department's code")
    report: str = Field(..., max_length=TEXT_MAX)


class FlagIn(OptionalReasonIn):
    pass


class RemindIn(OptionalReasonIn):
    pass


# -- outputs -----------------------------------------------------------------------------------
class ErrorOut(Schema):
    field: str | None = Field(description="dotted path of the input concerned (photos[2]), or null")
    code: str = Field(description="stable, for programs")
    message: str = Field(description="in the caller's language")


class ErrorsOut(Schema):
    errors: list[ErrorOut]


# what every operation may answer besides its success (fengqiao.api.errors)
ERROR_RESPONSES: dict[int, Any] = {status: ErrorsOut for status in (401, 403, 404, 409, 413, 422)}


class Ref(Schema):
    code: str
    name: str


class CaseItemOut(Schema):
    number: str
    state: str
    channel: str
    request_type: str
    category: Ref
    platform: str
    area_code: str
    grid: str | None
    region: str
    level: str
    lead_department: Ref | None
    urgency: str
    summary: str = Field(description="the description's first 120 characters")
    address: str = Field(description="masked below the street or village")
    is_public: bool
    supervised: bool
    warning: str
    due_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class CasePageOut(Schema):
    items: list[CaseItemOut]
    next_cursor: str | None


class CaseBatchOut(Schema):
    items: list[CaseItemOut] = Field(description="the new cases, in the order of the rows")


class ReporterOut(Schema):
    anonymous: bool
    registered_user: bool
    name: str = Field(description="masked")
    phone: str = Field(description="masked")


class DeadlinesOut(Schema):
    stage_started_at: datetime | None
    due_at: datetime | None
    warn_at: datetime | None
    warning: str = Field(description="'' on time, 'yellow' due soon, 'red' overdue")
    overdue_since: datetime | None
    extension_requested: bool
    closed_on_time: bool | None
    answer_due_at: datetime | None = Field(description="the answer promised to a resident")
    answer_warning: str = Field(description="'' on time, 'yellow' due soon, 'red' overdue")
    answered_at: datetime | None


class CountersOut(Schema):
    reworks: int
    reminders: int
    reopenings: int


class AssistOut(Schema):
    department: Ref
    requested_at: datetime
    reported_at: datetime | None
    report: str


class AttachmentOut(Schema):
    id: int
    kind: str
    url: str = Field(description="the copy without metadata")
    thumbnail_url: str
    content_type: str
    width: int
    height: int
    created_at: datetime


class EventOut(Schema):
    seq: int
    action: str
    from_state: str
    to_state: str
    actor: str
    level: str
    reason: str
    at: datetime


class CaseDetailOut(CaseItemOut):
    description: str
    address: str = Field(description="in full")
    lon: float | None
    lat: float | None
    routing_reason: str
    duplicate_of: str | None
    reporter: ReporterOut
    deadlines: DeadlinesOut
    counters: CountersOut
    rating: int | None
    rating_comment: str
    accepted_at: datetime | None
    dispatched_at: datetime | None
    handled_at: datetime | None
    closed_at: datetime | None
    rated_at: datetime | None
    assists: list[AssistOut]
    attachments: list[AttachmentOut]
    timeline: list[EventOut]
    actions: list[str] = Field(description="the actions you may take on the case now")


class RouteOut(Schema):
    department: Ref | None
    level: str | None
    basis: str | None = Field(description="rule | kind | command_centre")
    reason: str


class CategoryNodeOut(Schema):
    code: str
    name: str
    platform: str
    department_kind: str | None
    children: list[CategoryNodeOut]


# -- rendering ---------------------------------------------------------------------------------
def _ref(obj: Any) -> dict[str, str] | None:
    return {"code": obj.code, "name": obj.name} if obj is not None else None


def case_item(case: Case) -> dict[str, Any]:
    """A list row: no personal data; the address only down to its street or village."""
    return {
        "number": case.number, "state": case.state, "channel": case.channel, "request_type": case.request_type,
        "category": _ref(case.category),
        "platform": case.platform.code, "area_code": case.area_code, "grid": case.grid.code if case.grid else None,
        "region": case.region.code, "level": case.level, "lead_department": _ref(case.lead_department),
        "urgency": case.urgency, "summary": case.description[:120], "address": mask_address(case.address),
        "is_public": case.is_public, "supervised": case.supervised, "warning": case.warning, "due_at": case.due_at,
        "created_at": case.created_at, "updated_at": case.updated_at, "version": case.version,
    }


def _event(event: CaseEvent) -> dict[str, Any]:
    return {"seq": event.seq, "action": event.action, "from_state": event.from_state, "to_state": event.to_state,
            "actor": event.actor_label, "level": event.level, "reason": event.reason, "at": event.created_at}


def _attachment(attachment: CaseAttachment) -> dict[str, Any]:
    return {"id": attachment.pk, "kind": attachment.kind, "url": attachment.public_copy.url,
            "thumbnail_url": attachment.thumbnail.url, "content_type": attachment.content_type,
            "width": attachment.width, "height": attachment.height, "created_at": attachment.created_at}


def case_detail(case: Case, *, timeline: list[CaseEvent], actions: list[str],
                assists: list[CaseAssist] | None = None, attachments: list[CaseAttachment] | None = None) -> dict[str, Any]:
    """The case with its timeline, photos and deadlines; the reporter masked, never in full. The
    assists and attachments are read unless the caller knows them (a case just reported has no
    assists, and no attachments when it came without photos)."""
    if assists is None:
        assists = list(case.assists.select_related("department").order_by("requested_at", "pk"))
    if attachments is None:
        attachments = list(case.attachments.order_by("created_at", "pk"))
    detail = case_item(case)
    detail.update({
        "description": case.description, "address": case.address, "lon": case.lon, "lat": case.lat,
        "routing_reason": case.routing_reason,
        "duplicate_of": case.duplicate_of.number if case.duplicate_of is not None else None,
        "reporter": {"anonymous": case.anonymous, "registered_user": case.reporter_user_id is not None,
                     "name": mask_name(case.reporter_name), "phone": mask_phone(case.reporter_phone)},
        "deadlines": {"stage_started_at": case.stage_started_at, "due_at": case.due_at, "warn_at": case.warn_at,
                      "warning": case.warning, "overdue_since": case.overdue_since,
                      "extension_requested": case.extension_requested, "closed_on_time": case.closed_on_time,
                      "answer_due_at": case.answer_due_at, "answer_warning": case.answer_warning,
                      "answered_at": case.answered_at},
        "counters": {"reworks": case.rework_count, "reminders": case.reminder_count,
                     "reopenings": case.reopen_count},
        "rating": case.rating, "rating_comment": case.rating_comment,
        "accepted_at": case.accepted_at, "dispatched_at": case.dispatched_at, "handled_at": case.handled_at,
        "closed_at": case.closed_at, "rated_at": case.rated_at,
        "assists": [{"department": _ref(a.department), "requested_at": a.requested_at,
                     "reported_at": a.reported_at, "report": a.report} for a in assists],
        "attachments": [_attachment(a) for a in attachments],
        "timeline": [_event(e) for e in timeline],
        "actions": actions,
    })
    return detail


def category_node(node: Any) -> dict[str, Any]:
    return {"code": node.code, "name": node.name, "platform": node.platform,
            "department_kind": node.department_kind, "children": [category_node(c) for c in node.children]}


class RevealReporterIn(Schema):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(..., min_length=1, max_length=300, description="why the contact is needed (logged)")


class ReporterContactOut(Schema):
    name: str
    phone: str
    anonymous: bool
