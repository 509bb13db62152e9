"""The case loop's REST operations, mounted at /api/v1/cases (and the catalogue at /api/v1/categories).

One operation per action, each with its own input schema (fengqiao.cases.schemas). Operations are
thin: they parse input (codes to objects, base64 to bytes), call one service or selector and
render the case. Scope, versions, transitions and permissions are the services' and selectors'
business; their errors become structured answers in fengqiao.api.errors.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Annotated, Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Header, Path, Query, Router, Status

from fengqiao.cases import services
from fengqiao.cases.models import Case, Category, Level
from fengqiao.cases.schemas import (
    ERROR_RESPONSES,
    AcceptIn,
    AnswerIn,
    AssistReportIn,
    CaseBatchIn,
    CaseBatchOut,
    CaseCreateIn,
    CaseDetailOut,
    CaseListQuery,
    CasePageOut,
    CaseRowIn,
    CategoryNodeOut,
    DecideExtensionIn,
    DispatchIn,
    EscalateIn,
    FlagIn,
    MergeIn,
    ParkIn,
    RateIn,
    RecategoriseIn,
    RejectIn,
    RemindIn,
    ReopenIn,
    ReportBackIn,
    ReporterContactOut,
    RequestAssistIn,
    RequestExtensionIn,
    ResumeIn,
    ReturnIn,
    RevealReporterIn,
    RouteOut,
    StartIn,
    SuspendIn,
    UnparkIn,
    VerifyIn,
    case_detail,
    case_item,
    category_node,
)
from fengqiao.cases.selectors import (
    CaseFilters,
    allowed_actions,
    case_get,
    case_list,
    case_timeline,
    category_by_code,
    category_tree,
)
from fengqiao.core.errors import ErrorDetail, InvalidInput
from fengqiao.geo.models import Grid
from fengqiao.geo.selectors import grid_by_code
from fengqiao.org.models import Department

router = Router(tags=["cases"])
categories_router = Router(tags=["categories"])

IDEMPOTENCY_KEY_MAX = 100
# a case number: region code, date and sequence (330681101-20251110-0001)
CaseNumber = Annotated[str, Path(..., max_length=40, pattern=r"^[0-9A-Za-z_-]+$")]
_DATA_URL = re.compile(r"^data:[\w.+-]+/[\w.+-]+;base64,", re.IGNORECASE)


def _actor(request: HttpRequest) -> Any:
    """The authenticated user (fengqiao.api.auth puts it on the request)."""
    return request.auth  # type: ignore[attr-defined]


# -- parsing helpers: codes to objects, base64 to bytes -----------------------------------------
def _unknown(field: str, message: str, code: str) -> ErrorDetail:
    return ErrorDetail("invalid_choice", message % {"code": code}, field)


def _raise(errors: list[ErrorDetail]) -> None:
    if errors:
        raise InvalidInput(errors[0].code, errors[0].message, errors=errors)


def _category(code: str, errors: list[ErrorDetail], field: str = "category") -> Category | None:
    category = category_by_code(code)
    if category is None:
        errors.append(_unknown(field, _("Unknown category: %(code)s."), code))
    return category


def _grid(code: str, errors: list[ErrorDetail], field: str = "grid") -> Grid | None:
    try:
        return grid_by_code(code)
    except Grid.DoesNotExist:
        errors.append(_unknown(field, _("Unknown grid: %(code)s."), code))
        return None


def _department(code: str, errors: list[ErrorDetail], field: str = "department") -> Department | None:
    department = Department.objects.select_related("region").filter(code=code, is_active=True).first()
    if department is None:
        errors.append(_unknown(field, _("Unknown or inactive department: %(code)s."), code))
    return department


def _incoming(row: CaseRowIn, category: Category, grid: Grid | None) -> services.IncomingReport:
    """A report's fields, its codes made objects (a create's channel and photos left aside)."""
    return services.IncomingReport(category=category, grid=grid,
                                   **row.model_dump(include=set(CaseRowIn.model_fields) - {"category", "grid"}))


def _photos(items: list[str], field: str = "photos") -> list[services.Photo]:
    """Base64 (optionally as a data: URL) to bytes; the services judge the bytes themselves."""
    photos, errors = [], []
    for i, text in enumerate(items):
        text = _DATA_URL.sub("", text.strip(), count=1)
        try:
            data = base64.b64decode("".join(text.split()), validate=True)
        except (binascii.Error, ValueError):
            data = b""
        if not data:
            errors.append(ErrorDetail("invalid_base64", _("This is not a base64-encoded file."), f"{field}[{i}]"))
        photos.append(services.Photo(data))
    _raise(errors)
    return photos


# -- rendering -------------------------------------------------------------------------------------
def _detail(request: HttpRequest, case: Case, *, reported_without_photos: bool = False) -> dict[str, Any]:
    """The case as an answer; a case reported without photos and not moved since (version 1) has
    no assists or attachments to read."""
    known: dict[str, Any] = {"assists": [], "attachments": []} if reported_without_photos else {}
    return case_detail(case, timeline=case_timeline(case=case),
                       actions=[a.value for a in allowed_actions(actor=_actor(request), case=case)], **known)


# -- reads -----------------------------------------------------------------------------------------
@router.get("", response={200: CasePageOut, **ERROR_RESPONSES}, operation_id="cases_list", summary="List the cases you may see")
def list_cases(request: HttpRequest, filters: Query[CaseListQuery]):
    """Newest first. Pass `next_cursor` back as `cursor` for the next page; it is null on the last."""
    wanted = CaseFilters(
        states=[s.value for s in filters.state] if filters.state else None, category=filters.category,
        platform=filters.platform, area=filters.area, department=filters.department, overdue=filters.overdue,
        supervised=filters.supervised, created_from=filters.created_from, created_to=filters.created_to,
        text=filters.q,
    )
    try:
        page = case_list(actor=_actor(request), filters=wanted, cursor=filters.cursor, limit=filters.limit)
    except OverflowError as exc:
        # a forged cursor holding a time the database cannot store (selectors._decode_cursor lets it through)
        raise InvalidInput("invalid_cursor", _("The cursor is not valid."), field="cursor") from exc
    return {"items": [case_item(case) for case in page.items], "next_cursor": page.next_cursor}


# registered before /{number}, which would take the path for a case number
@router.post("/batch", response={201: CaseBatchOut, **ERROR_RESPONSES}, operation_id="cases_create_batch",
             summary="Report many cases at once (a system's batch)")
def create_cases(request: HttpRequest, payload: CaseBatchIn,
                 idempotency_key: str | None = Header(None, alias="Idempotency-Key",
                                                      max_length=IDEMPOTENCY_KEY_MAX)):
    """For intake staff's systems: the hotline's platform, a sensor platform, a predecessor
    system. Every row is checked as a single create checks it, and against your scope (you take in
    cases where each row lies); when any row fails, the errors name the rows (`rows[7].description`)
    and nothing is written. With an `Idempotency-Key`, a retry of the same batch answers 201 with
    the cases the first one created, in the same order."""
    rows = payload.rows
    errors: list[ErrorDetail] = []
    reports = []
    for i, row in enumerate(rows):
        category = _category(row.category, errors, f"rows[{i}].category")
        grid = _grid(row.grid, errors, f"rows[{i}].grid") if row.grid else None
        if category is not None and not errors:
            reports.append(_incoming(row, category, grid))
    if errors:
        raise services.rows_refused(errors)
    cases = services.case_import(actor=_actor(request), reports=reports, channel=payload.channel,
                                 idempotency_key=idempotency_key or None)
    return Status(201, {"items": [case_item(case) for case in cases]})


@router.get("/{number}", response={200: CaseDetailOut, **ERROR_RESPONSES}, operation_id="cases_get", summary="A case with its timeline")
def get_case(request: HttpRequest, number: CaseNumber):
    """Out of your scope, or no such case: 404 either way. The reporter's name and phone are masked."""
    return _detail(request, case_get(actor=_actor(request), number=number))


@router.get("/{number}/route", response={200: RouteOut, **ERROR_RESPONSES}, operation_id="cases_route",
            summary="Where routing would send the case, and why")
def get_route(request: HttpRequest, number: CaseNumber):
    case = case_get(actor=_actor(request), number=number)
    # the level dispatch asks for (services.case_dispatch): the case's own, unless it is at grid level
    decision = services.suggest_route(case=case, min_level=Level(case.level) if case.level != Level.GRID else None)
    if decision is None:
        return {"department": None, "level": None, "basis": None,
                "reason": _("No department serves this case: choose one.")}
    return {"department": {"code": decision.department.code, "name": decision.department.name},
            "level": decision.level, "basis": decision.basis, "reason": decision.reason}


@router.post("/{number}/reporter", response={200: ReporterContactOut, **ERROR_RESPONSES}, operation_id="cases_reporter",
             summary="The reporter's contact in full (roles that need it; every view is logged with its reason)")
def reveal_reporter(request: HttpRequest, number: CaseNumber, payload: RevealReporterIn):
    contact = services.case_reveal_reporter(actor=_actor(request), number=number, reason=payload.reason)
    return {"name": contact.name, "phone": contact.phone, "anonymous": contact.anonymous}


# -- intake ----------------------------------------------------------------------------------------
@router.post("", response={201: CaseDetailOut, **ERROR_RESPONSES}, operation_id="cases_create", summary="Report a case")
def create_case(request: HttpRequest, payload: CaseCreateIn,
                idempotency_key: str | None = Header(None, alias="Idempotency-Key",
                                                     max_length=IDEMPOTENCY_KEY_MAX)):
    """Give a point (lon, lat) or a grid code. With an `Idempotency-Key` header, a retry of the same
    request answers 201 with the case the first one created (nothing new is written); the same key
    with a different request answers 409 `idempotency_key_reused`."""
    errors: list[ErrorDetail] = []
    category = _category(payload.category, errors)
    grid = _grid(payload.grid, errors) if payload.grid else None
    _raise(errors)
    assert category is not None
    if not payload.photos:  # written together with the server's other reports of the moment
        case = services.case_report_together(actor=_actor(request), channel=payload.channel,
                                             report=_incoming(payload, category, grid),
                                             idempotency_key=idempotency_key or None)
        return Status(201, _detail(request, case, reported_without_photos=case.version == 1))
    case = services.case_report(
        actor=_actor(request), channel=payload.channel, category=category, description=payload.description,
        lon=payload.lon, lat=payload.lat, grid=grid, address=payload.address, urgency=payload.urgency,
        request_type=payload.request_type, is_public=payload.is_public, anonymous=payload.anonymous, reporter_name=payload.reporter_name,
        reporter_phone=payload.reporter_phone, photos=_photos(payload.photos), idempotency_key=idempotency_key or None,
    )
    return Status(201, _detail(request, case))


# -- actions: POST /cases/{number}/{action} ------------------------------------------------------------
def _act(request: HttpRequest, service: Callable[..., Case], number: str, version: int, **arguments: Any):
    case = service(actor=_actor(request), number=number, expected_version=version, **arguments)
    return _detail(request, case)


def _action(name: str, summary: str):
    return router.post(f"/{{number}}/{name}", response={200: CaseDetailOut, **ERROR_RESPONSES},
                       operation_id=f"cases_{name}", summary=summary)


@_action("accept", "Accept the case (立案)")
def accept(request: HttpRequest, number: CaseNumber, payload: AcceptIn):
    return _act(request, services.case_accept, number, payload.version, reason=payload.reason)


@_action("reject", "Reject the case (不予立案); a reason is required")
def reject(request: HttpRequest, number: CaseNumber, payload: RejectIn):
    return _act(request, services.case_reject, number, payload.version, reason=payload.reason)


@_action("recategorise", "Correct the category")
def recategorise(request: HttpRequest, number: CaseNumber, payload: RecategoriseIn):
    errors: list[ErrorDetail] = []
    category = _category(payload.category, errors)
    _raise(errors)
    return _act(request, services.case_recategorise, number, payload.version, category=category,
                reason=payload.reason)


@_action("merge", "Merge as a duplicate of another case")
def merge(request: HttpRequest, number: CaseNumber, payload: MergeIn):
    return _act(request, services.case_merge, number, payload.version, master_number=payload.master_number,
                reason=payload.reason)


@_action("dispatch", "Dispatch to a department (the routing suggestion when none is given)")
def dispatch(request: HttpRequest, number: CaseNumber, payload: DispatchIn):
    errors: list[ErrorDetail] = []
    department = _department(payload.department, errors) if payload.department else None
    _raise(errors)
    return _act(request, services.case_dispatch, number, payload.version, department=department,
                reason=payload.reason)


@_action("return", "Return the case to the command centre; a reason is required")
def return_case(request: HttpRequest, number: CaseNumber, payload: ReturnIn):
    return _act(request, services.case_return, number, payload.version, reason=payload.reason)


@_action("start", "Start handling")
def start(request: HttpRequest, number: CaseNumber, payload: StartIn):
    return _act(request, services.case_start, number, payload.version)


@_action("report_back", "Report back what was done, with after-photos")
def report_back(request: HttpRequest, number: CaseNumber, payload: ReportBackIn):
    return _act(request, services.case_report_back, number, payload.version, result=payload.result,
                photos=_photos(payload.photos))


@_action("verify", "Verify on the spot: passed closes the case, failed sends it back (rework)")
def verify(request: HttpRequest, number: CaseNumber, payload: VerifyIn):
    return _act(request, services.case_verify, number, payload.version, passed=payload.passed, note=payload.note,
                photos=_photos(payload.photos))


@_action("rate", "Rate the handling (1-5)")
def rate(request: HttpRequest, number: CaseNumber, payload: RateIn):
    return _act(request, services.case_rate, number, payload.version, rating=payload.rating,
                comment=payload.comment)


@_action("answer", "Publish the answer to the resident (a public event; stops the answer clock)")
def answer(request: HttpRequest, number: CaseNumber, payload: AnswerIn):
    return _act(request, services.case_answer, number, payload.version, text=payload.text)


@_action("reopen", "Reopen a closed or rated case; a reason is required")
def reopen(request: HttpRequest, number: CaseNumber, payload: ReopenIn):
    return _act(request, services.case_reopen, number, payload.version, reason=payload.reason)


@_action("request_extension", "Ask for more working days; a reason is required")
def request_extension(request: HttpRequest, number: CaseNumber, payload: RequestExtensionIn):
    return _act(request, services.case_request_extension, number, payload.version,
                working_days=payload.working_days, reason=payload.reason)


@_action("decide_extension", "Approve or refuse the extension asked for")
def decide_extension(request: HttpRequest, number: CaseNumber, payload: DecideExtensionIn):
    return _act(request, services.case_decide_extension, number, payload.version, approve=payload.approve,
                working_days=payload.working_days, reason=payload.reason)


@_action("suspend", "Suspend (缓办: the clock stops); a reason is required")
def suspend(request: HttpRequest, number: CaseNumber, payload: SuspendIn):
    return _act(request, services.case_suspend, number, payload.version, reason=payload.reason)


@_action("resume", "Resume a suspended case")
def resume(request: HttpRequest, number: CaseNumber, payload: ResumeIn):
    return _act(request, services.case_resume, number, payload.version, reason=payload.reason)


@_action("park", "Park (挂账: cannot be solved now, stays tracked); a reason is required")
def park(request: HttpRequest, number: CaseNumber, payload: ParkIn):
    return _act(request, services.case_park, number, payload.version, reason=payload.reason)


@_action("unpark", "Take the case out of parking")
def unpark(request: HttpRequest, number: CaseNumber, payload: UnparkIn):
    return _act(request, services.case_unpark, number, payload.version, reason=payload.reason)


@_action("escalate", "Escalate to the next level; a reason is required")
def escalate(request: HttpRequest, number: CaseNumber, payload: EscalateIn):
    return _act(request, services.case_escalate, number, payload.version, reason=payload.reason)


@_action("request_assist", "Ask departments to assist")
def request_assist(request: HttpRequest, number: CaseNumber, payload: RequestAssistIn):
    errors: list[ErrorDetail] = []
    departments = [_department(code, errors, f"departments[{i}]") for i, code in enumerate(payload.departments)]
    _raise(errors)
    return _act(request, services.case_request_assist, number, payload.version, departments=departments,
                reason=payload.reason)


@_action("assist_report", "Report the part of an assisting department")
def assist_report(request: HttpRequest, number: CaseNumber, payload: AssistReportIn):
    errors: list[ErrorDetail] = []
    department = _department(payload.department, errors)
    _raise(errors)
    return _act(request, services.case_assist_report, number, payload.version, department=department,
                report=payload.report)


@_action("flag", "Flag for supervision (挂牌督办)")
def flag(request: HttpRequest, number: CaseNumber, payload: FlagIn):
    return _act(request, services.case_flag, number, payload.version, reason=payload.reason)


@_action("remind", "Send a reminder (催办)")
def remind(request: HttpRequest, number: CaseNumber, payload: RemindIn):
    return _act(request, services.case_remind, number, payload.version, reason=payload.reason)


# -- the catalogue -------------------------------------------------------------------------------------
@categories_router.get("", response={200: list[CategoryNodeOut], **ERROR_RESPONSES}, operation_id="categories_tree",
                       summary="The active categories as a tree")
def list_categories(request: HttpRequest, platform: str | None = Query(None, max_length=60)):
    return [category_node(node) for node in category_tree(platform=platform)]
