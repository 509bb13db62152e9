"""Every write to a case (DESIGN §6): keyword-only, typed, atomic services.

Each transition locks the case row, checks the expected version (stale: 409), the transition table
(states.TRANSITIONS) and the permission resolver (out of scope: 404; in scope but not allowed:
403), applies the change, writes a hash-chained event and enqueues side effects on commit.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import prefetch_related_objects
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from fengqiao.cases import deadlines
from fengqiao.cases.events import actor_label_of, append_event, build_event
from fengqiao.cases.models import (
    LEVEL_ORDER,
    Case,
    CaseAssist,
    CaseAttachment,
    CaseEvent,
    Category,
    Channel,
    DeadlineWarning,
    IdempotencyKey,
    Level,
    PendingNotice,
    RequestType,
    Urgency,
)
from fengqiao.cases.notifications import is_muted, write_notices
from fengqiao.cases.numbering import new_tracking_code, next_case_number, next_case_numbers
from fengqiao.cases.routing import department_level, route
from fengqiao.cases.states import FINAL_STATES, TRANSITIONS, CaseAction, CaseState, may_act
from fengqiao.core import clock
from fengqiao.core.db import commit_without_waiting_for_disk, insert_rows, row_values, update_rows
from fengqiao.core.errors import (
    Conflict,
    ErrorDetail,
    Forbidden,
    InvalidInput,
    NotFound,
    TransitionNotAllowed,
)
from fengqiao.core.group_commit import GroupCommit, GroupWriteFailed
from fengqiao.geo.locator import get_locator
from fengqiao.geo.models import Asset, Grid, Region
from fengqiao.geo.selectors import grid_by_code, region_by_code
from fengqiao.org.models import Department
from fengqiao.org.permissions import Action, Target, permissions_for

A = CaseAction
S = CaseState
DESCRIPTION_MAX = 2000
REASON_MAX = 1000
PUBLIC_CHANNELS = {Channel.RESIDENT, Channel.OPEN311, Channel.SENSOR}
_PHONE_SHAPE = re.compile(r"^\+?[0-9][0-9 -]{5,22}[0-9]$")
# What a signed-in reporter's role must allow in the area to report through a channel.
CHANNEL_PERMISSION = {
    Channel.GRID_WORKER: Action.CLOSE_ON_SPOT,  # grid workers and chiefs
    Channel.HOTLINE: Action.INTAKE_CASE,  # command-centre operators take calls
    Channel.IMPORT: Action.INTAKE_CASE,
}


@dataclass(frozen=True)
class Photo:
    data: bytes
    kind: str = CaseAttachment.Kind.REPORT


# -- helpers -----------------------------------------------------------------------------------
def _invalid(field: str, code: str, message: str) -> InvalidInput:
    return InvalidInput(code, message, field=field)


def _notify(case: Case, topic: str, **extra: Any) -> None:
    """Tell whom it concerns, in the same transaction as the event (outbox)."""
    from fengqiao.cases.notifications import notify_case

    notify_case(case=case, topic=topic, **extra)


def _store_photos(case: Case, event: CaseEvent, photos: Sequence[Photo], now) -> None:
    from fengqiao.cases.attachments import attach_photo

    for photo in photos:
        attach_photo(case=case, event=event, data=photo.data, kind=photo.kind, now=now)


def _check_photos(photos: Sequence[Photo]) -> None:
    from fengqiao.cases.attachments import MAX_PHOTOS, check_photo

    if len(photos) > MAX_PHOTOS:
        raise _invalid("photos", "too_many", _("At most %(n)d photos.") % {"n": MAX_PHOTOS})
    for i, photo in enumerate(photos):
        check_photo(photo.data, field=f"photos[{i}]")


def _locate(*, lon: float | None, lat: float | None, grid: Grid | None) -> tuple[Grid | None, Region]:
    if lon is not None or lat is not None:
        if lon is None or lat is None or not (math.isfinite(lon) and math.isfinite(lat)) \
                or not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise _invalid("location", "invalid_point", _("Give both longitude and latitude, as numbers."))
        found = get_locator().locate(lon, lat)
        if found.grid_code:
            located = grid_by_code(found.grid_code)
            if grid is not None and grid.pk != located.pk:
                raise _invalid("grid", "grid_mismatch", _("The point lies in grid %(code)s, not in the grid given.")
                               % {"code": located.code})
            return located, located.region
        if found.region_code:
            if grid is not None:
                raise _invalid("grid", "grid_mismatch", _("The point lies outside the grid given."))
            return None, region_by_code(found.region_code)
        raise _invalid("location", "outside_territory", _("The point lies outside the territory served."))
    if grid is not None:
        return grid, grid.region
    raise _invalid("location", "location_required", _("Give a point or choose a grid."))


def _number_region(area_code: str) -> str:
    return area_code[:9] if len(area_code) >= 9 else area_code[:6]


def _request_hash(**fields: Any) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


# -- intake ------------------------------------------------------------------------------------
def _check_report(*, channel: str, category: Category, description: str, urgency: str, request_type: str,
                  address: str, reporter_name: str, reporter_phone: str, anonymous: bool) -> str:
    """Check a report's own fields, all of them before any is refused; the description as stored."""
    errors: list[ErrorDetail] = []
    description = (description or "").strip()
    if not description:
        errors.append(ErrorDetail("required", _("Describe the matter."), "description"))
    elif len(description) > DESCRIPTION_MAX:
        errors.append(ErrorDetail("too_long", _("The description is limited to %(n)d characters.")
                                  % {"n": DESCRIPTION_MAX}, "description"))
    if channel not in Channel.values:
        errors.append(ErrorDetail("invalid_choice", _("Unknown channel."), "channel"))
    if urgency not in Urgency.values:
        errors.append(ErrorDetail("invalid_choice", _("Unknown urgency."), "urgency"))
    if request_type not in RequestType.values:
        errors.append(ErrorDetail("invalid_choice", _("Unknown request type."), "request_type"))
    if not category.is_active:
        errors.append(ErrorDetail("inactive", _("This category is no longer in use."), "category"))
    if len(address) > 300:
        errors.append(ErrorDetail("too_long", _("The address is limited to 300 characters."), "address"))
    if len(reporter_name) > 100:
        errors.append(ErrorDetail("too_long", _("The name is limited to %(n)d characters.") % {"n": 100},
                                  "reporter_name"))
    if reporter_phone and not anonymous and not _PHONE_SHAPE.match(reporter_phone.strip()):
        errors.append(ErrorDetail("invalid_phone", _("Give a phone number of digits only (7 to 20)."),
                                  "reporter_phone"))
    if errors:
        raise InvalidInput("invalid_case", errors[0].message, errors=errors)
    return description


def _check_may_take_in(actor: Any, perms: Any, channel: str, area_code: str) -> None:
    """A signed-in reporter's scope and role, for a channel that is not open to everybody."""
    if actor is None:
        raise Forbidden("login_required", _("Sign in to report through this channel."))
    if not perms.can(Action.REPORT_CASE, Target(area_code=area_code)):
        raise NotFound("not_found", _("This grid is not yours to report in."))
    if not perms.can(CHANNEL_PERMISSION.get(Channel(channel), Action.REPORT_CASE), Target(area_code=area_code)):
        raise Forbidden("channel_not_allowed", _("Your role does not report through this channel."))


def _new_case(*, actor: Any, channel: str, request_type: str, category: Category, grid: Grid | None, region: Region,
              area_code: str, asset: Asset | None, lon: float | None, lat: float | None, address: str,
              description: str, urgency: str, is_public: bool, anonymous: bool, reporter_name: str,
              reporter_phone: str, level: str, now) -> Case:
    """A new case as reported (unsaved, without its number), its first stage's and answer's clocks running."""
    case = Case(
        tracking_code=new_tracking_code(),
        channel=channel, request_type=request_type, category=category, platform_id=category.platform_id,
        grid=grid, region=region, area_code=area_code, asset=asset, lon=lon, lat=lat, address=address.strip(),
        description=description, urgency=urgency, is_public=is_public, anonymous=anonymous,
        reporter_user=actor, reporter_name="" if anonymous else reporter_name.strip(),
        reporter_phone="" if anonymous else reporter_phone.strip(),
        level=level, created_at=now, updated_at=now,
    )
    if Category.platform.is_cached(category):  # the category came with its platform: the case shares it
        case.platform = category.platform
    if case.reporter_phone:
        from fengqiao.core.crypto import blind_index

        case.reporter_phone_index = blind_index(case.reporter_phone, "phone")
    deadlines.start_stage(case, now)
    deadlines.start_answer_clock(case, now)
    return case


def case_report(
    *,
    actor: Any,
    channel: str,
    category: Category,
    description: str,
    lon: float | None = None,
    lat: float | None = None,
    grid: Grid | None = None,
    asset: Asset | None = None,
    address: str = "",
    urgency: str = Urgency.NORMAL,
    request_type: str = RequestType.REPORT,
    is_public: bool = True,
    anonymous: bool = False,
    reporter_name: str = "",
    reporter_phone: str = "",
    photos: Sequence[Photo] = (),
    idempotency_key: str | None = None,
    close_on_spot: bool = False,
    resolution: str = "",
) -> Case:
    """Take in a matter from any channel. A retried request with the same idempotency key returns
    the case the first one created. With `close_on_spot` a grid worker reports a small matter
    already fixed, with an after-photo ("小事一格解决"). Through the public channels anybody may
    report, anonymously or signed in (a resident's account becomes the reporter); a resident's
    request gets the answer deadline (deadlines.start_answer_clock).

    Everything is read, checked and computed first; the township's daily number counter, whose row
    stays locked until the commit, is taken last, just before the rows are written."""
    report: dict[str, Any] = dict(
        channel=channel, category=category, description=description, lon=lon, lat=lat, grid=grid, asset=asset,
        address=address, urgency=urgency, request_type=request_type, is_public=is_public, anonymous=anonymous,
        reporter_name=reporter_name, reporter_phone=reporter_phone, photos=photos, close_on_spot=close_on_spot,
        resolution=resolution)
    try:
        with transaction.atomic():
            now = clock.now()
            actor = actor if getattr(actor, "is_authenticated", False) else None
            key_hash, earlier = _keyed(actor, idempotency_key, report)
            if earlier is not None:
                return earlier
            case = _checked_report(actor=actor, now=now, **report)
            area_code = case.area_code
            from fengqiao.cases.selectors import duplicate_candidates

            duplicates = [c.number for c in duplicate_candidates(case=case)]
            topic = "case.closed_on_spot" if close_on_spot else "case.reported"
            from fengqiao.cases.notifications import prepare

            message = prepare(case=case, topic=topic)

            # the rows: the number last, then the case once, its events, the key, the outbox
            case.number = next_case_number(region_code=_number_region(area_code), at=now)
            events = [build_event(case=case, action=A.REPORT, actor=actor, from_state="", to_state=S.REPORTED,
                                  now=now, payload={"channel": channel, "possible_duplicates": duplicates})]
            if close_on_spot:
                case.state = S.CLOSED
                case.closed_at = case.handled_at = now
                case.closed_on_time = True
                deadlines.start_stage(case, now)
                deadlines.mark_answered(case, now)
                events.append(build_event(case=case, action=A.CLOSE_ON_SPOT, actor=actor, from_state=S.REPORTED,
                                          to_state=S.CLOSED, reason=resolution, now=now))
            case.save(force_insert=True)
            CaseEvent.objects.bulk_create(events)
            if idempotency_key:
                # a concurrent retry with the same key that committed first makes this insert fail,
                # which undoes everything written here (below: its case is the answer)
                IdempotencyKey.objects.create(actor=actor, key=idempotency_key, request_hash=key_hash, case=case,
                                              created_at=now)
            _store_photos(case, events[-1], photos, now)  # files last: a lost race above leaves none behind
            message.send(case=case)
            return case

    except IntegrityError:
        if not idempotency_key:
            raise
        winner = _earlier_report(actor, idempotency_key, key_hash)
        if winner is None:
            raise Conflict("retry", _("The same request is being processed; try again.")) from None
        return winner


def _report_hash(*, channel: str, category: Category, description: str, lon: float | None, lat: float | None,
                 grid: Grid | None, asset: Asset | None, address: str, urgency: str, request_type: str,
                 is_public: bool, anonymous: bool, reporter_name: str, reporter_phone: str, photos: Sequence[Photo],
                 close_on_spot: bool, resolution: str) -> str:
    """What an idempotency key stands for: the whole request, photos by their digest."""
    return _request_hash(
        channel=channel, category=category.pk, description=description, lon=lon, lat=lat,
        grid=grid.pk if grid else None, asset=asset.pk if asset else None, address=address, urgency=urgency,
        request_type=request_type, is_public=is_public, anonymous=anonymous, reporter_name=reporter_name,
        reporter_phone=reporter_phone, close=close_on_spot, resolution=resolution,
        photos=[(p.kind, hashlib.sha256(p.data).hexdigest()) for p in photos])


def _keyed(actor: Any, key: str | None, report: dict[str, Any]) -> tuple[str, Case | None]:
    """For a report with an idempotency key: what the key stands for, and the case an earlier
    request with it created (None: a new key). ("", None) without a key."""
    if not key:
        return "", None
    key_hash = _report_hash(**report)
    return key_hash, _earlier_report(actor, key, key_hash)


def _earlier_report(actor: Any, key: str, key_hash: str) -> Case | None:
    """The case an earlier request with this key created; None for a new key; Conflict when the
    key was used for another request."""
    found = IdempotencyKey.objects.filter(actor=actor, key=key).values_list("request_hash", "case_id")[:1]
    if not found:  # most requests: one narrow read
        return None
    [(request_hash, case_id)] = found
    if request_hash != key_hash or case_id is None:
        raise Conflict("idempotency_key_reused", _("This idempotency key was used for another request."))
    return Case.objects.select_related("category", "platform", "grid", "region").get(pk=case_id)


def _checked_report(*, actor: Any, channel: str, category: Category, description: str, lon: float | None,
                    lat: float | None, grid: Grid | None, asset: Asset | None, address: str, urgency: str,
                    request_type: str, is_public: bool, anonymous: bool, reporter_name: str, reporter_phone: str,
                    photos: Sequence[Photo], close_on_spot: bool, resolution: str, now) -> Case:
    """A single report checked (its fields, place, photos, the reporter's scope and channel) and
    made a new case: unsaved, unnumbered, its clocks running."""
    description = _check_report(channel=channel, category=category, description=description,
                                urgency=urgency, request_type=request_type, address=address,
                                reporter_name=reporter_name, reporter_phone=reporter_phone,
                                anonymous=anonymous)
    if asset is not None and lon is None and lat is None:
        lon, lat = asset.lon, asset.lat
    grid, region = _locate(lon=lon, lat=lat, grid=grid)
    _check_photos(photos)
    area_code = grid.code if grid else region.code

    perms = permissions_for(actor) if actor else None
    if channel not in PUBLIC_CHANNELS:  # where anybody may report, signed in or not
        _check_may_take_in(actor, perms, channel, area_code)
    if close_on_spot:
        if actor is None or not perms.can(Action.CLOSE_ON_SPOT, Target(area_code=area_code)):  # type: ignore[union-attr]
            raise Forbidden("forbidden", _("Only the grid's worker or chief closes a matter on the spot."))
        if not any(p.kind == CaseAttachment.Kind.AFTER for p in photos):
            raise _invalid("photos", "after_photo_required", _("Add a photo taken after the matter was fixed."))
    return _new_case(
        actor=actor, channel=channel, request_type=request_type, category=category, grid=grid, region=region,
        area_code=area_code, asset=asset, lon=lon, lat=lat, address=address, description=description,
        urgency=urgency, is_public=is_public, anonymous=anonymous, reporter_name=reporter_name,
        reporter_phone=reporter_phone, level=Level.GRID if close_on_spot else Level.TOWNSHIP, now=now)


# -- reports written together: a server's concurrent single reports ----------------------------
@dataclass
class _Waiting:
    case: Case
    key: str | None
    key_hash: str


def _write_together(waiting: list[_Waiting]) -> list[Case]:
    cases = [w.case for w in waiting]
    with transaction.atomic():
        _write_new_cases(cases)
        IdempotencyKey.objects.bulk_create([
            IdempotencyKey(actor=w.case.reporter_user, key=w.key, request_hash=w.key_hash, case=w.case,
                           created_at=w.case.created_at) for w in waiting if w.key])
    return cases


_reports_together: GroupCommit[_Waiting, Case] = GroupCommit(_write_together)


def case_report_together(*, actor: Any, channel: str, report: IncomingReport,
                         idempotency_key: str | None = None) -> Case:
    """`case_report` for the concurrent requests of a server process (the API's create), without
    photos: each request checks its report in its own thread as `case_report` does (the key, the
    fields, the place, the reporter's scope and channel), then waits while the reports of that
    moment are written together in one transaction, the way a bulk intake writes a chunk (one
    number-counter update per township, one duplicate query, one insert per table; core.group_commit).
    Under load the database's work per report falls; a report alone is written at once.

    The case is the one `case_report` makes (a test compares them); a report sees the duplicates
    among the others of its group too. Inside a transaction (the caller's writes must commit with
    the case), or when the group's write fails (say a concurrent retry of one of its keys), the
    report is taken alone by `case_report`."""
    given = dict(channel=channel, **{name: getattr(report, name) for name in _REPORT_FIELDS},
                 category=report.category, grid=report.grid)
    if connection.in_atomic_block:
        return case_report(actor=actor, idempotency_key=idempotency_key, **given)
    now = clock.now()
    reporter = actor if getattr(actor, "is_authenticated", False) else None
    full = dict(given, asset=None, photos=(), close_on_spot=False, resolution="")
    key_hash, earlier = _keyed(reporter, idempotency_key, full)
    if earlier is not None:
        return earlier
    case = _checked_report(actor=reporter, now=now, **full)
    try:
        return _reports_together.submit(_Waiting(case, idempotency_key, key_hash))
    except GroupWriteFailed:
        return case_report(actor=actor, idempotency_key=idempotency_key, **given)


# -- bulk intake -------------------------------------------------------------------------------
@dataclass(frozen=True)
class IncomingReport:
    """One row of a bulk intake: what `case_report` takes, less photos, keys and closing on the spot."""

    category: Category
    description: str
    lon: float | None = None
    lat: float | None = None
    grid: Grid | None = None
    address: str = ""
    urgency: str = Urgency.NORMAL
    request_type: str = RequestType.REPORT
    is_public: bool = True
    anonymous: bool = False
    reporter_name: str = ""
    reporter_phone: str = ""


IMPORT_CHUNK = 500
IMPORT_ERRORS_LISTED = 50


def case_import(*, actor: Any, reports: Sequence[IncomingReport], channel: str = Channel.IMPORT,
                chunk_size: int = IMPORT_CHUNK, idempotency_key: str | None = None) -> list[Case]:
    """Take in many reports at once: a file from the 12345 hotline's platform, a predecessor
    system's open matters, a sensor platform's backlog. Each case gets what `case_report` gives
    one (its number, the stage's and the answer's clocks, the possible duplicates on its first
    event, within the batch too, and the intake staff's notice).

    Every row is checked first, as `case_report` checks it, and against the actor's scope: the
    actor must take in cases (Action.INTAKE_CASE) where each row lies, whatever the channel. When
    any row fails, one InvalidInput lists the rows' errors (field `rows[7].description`; the first
    IMPORT_ERRORS_LISTED) and nothing is written. Then the rows go in by chunks of `chunk_size`,
    a transaction each, with a few statements a chunk: the numbers of a township's day with one
    update, the cases with one insert, their events and outbox rows with one COPY each on
    PostgreSQL. A chunk holds its townships' number counters only for its own writes. (Should the
    database itself fail part-way, the chunks already committed stay, each whole, and the error
    is raised: the rows are all checked before, so a bad row never does that.)

    With an `idempotency_key` the whole batch and its key commit in one transaction, and a retry
    of the same batch returns the cases the first one made, in their order (nothing new is
    written); the same key with other rows answers Conflict `idempotency_key_reused`."""
    if not getattr(actor, "is_authenticated", False):
        raise Forbidden("login_required", _("Sign in to report through this channel."))
    if channel not in Channel.values:
        raise _invalid("channel", "invalid_choice", _("Unknown channel."))
    key_hash = ""
    if idempotency_key:
        key_hash = _request_hash(channel=channel, rows=[
            {**{name: getattr(report, name) for name in _REPORT_FIELDS},
             "category": report.category.pk, "grid": report.grid.pk if report.grid else None} for report in reports])
        earlier = _cases_of_key(actor, idempotency_key, key_hash)
        if earlier is not None:
            return earlier
    cases = _checked_cases(actor, reports, channel)
    if not cases:
        return []
    if not idempotency_key:
        for start in range(0, len(cases), max(1, chunk_size)):
            with transaction.atomic():  # a chunk a transaction: the counters are held briefly
                _write_new_cases(cases[start:start + chunk_size])
        return cases
    try:
        with transaction.atomic():  # the chunks nest in it: the cases and the key commit together
            for start in range(0, len(cases), max(1, chunk_size)):
                _write_new_cases(cases[start:start + chunk_size])
            # fails when a concurrent retry with the same key committed first: this batch is undone
            IdempotencyKey.objects.create(actor=actor, key=idempotency_key, request_hash=key_hash,
                                          case_ids=[case.pk for case in cases], created_at=cases[0].created_at)
    except IntegrityError:
        earlier = _cases_of_key(actor, idempotency_key, key_hash)
        if earlier is None:
            raise Conflict("retry", _("The same request is being processed; try again.")) from None
        return earlier
    return cases


_REPORT_FIELDS = [f.name for f in fields(IncomingReport) if f.name not in ("category", "grid")]


def _cases_of_key(actor: Any, key: str, key_hash: str) -> list[Case] | None:
    """The cases an earlier bulk intake with this key made, in their order; None for a new key."""
    existing = IdempotencyKey.objects.filter(actor=actor, key=key).first()
    if existing is None:
        return None
    if existing.request_hash != key_hash or existing.case_id is not None:
        raise Conflict("idempotency_key_reused", _("This idempotency key was used for another request."))
    by_id = Case.objects.select_related("category", "platform", "grid", "region").in_bulk(existing.case_ids)
    return [by_id[pk] for pk in existing.case_ids if pk in by_id]


def _checked_cases(actor: Any, reports: Sequence[IncomingReport], channel: str) -> list[Case]:
    """The reports as new cases (unsaved, unnumbered), every row checked; InvalidInput naming
    each failing row when any fails."""
    now = clock.now()
    perms = permissions_for(actor)
    may_take_in: dict[str, bool] = {}
    cases: list[Case] = []
    errors: list[ErrorDetail] = []
    for i, report in enumerate(reports):
        try:
            description = _check_report(
                channel=channel, category=report.category, description=report.description, urgency=report.urgency,
                request_type=report.request_type, address=report.address, reporter_name=report.reporter_name,
                reporter_phone=report.reporter_phone, anonymous=report.anonymous)
            grid, region = _locate(lon=report.lon, lat=report.lat, grid=report.grid)
            area_code = grid.code if grid else region.code
            if area_code not in may_take_in:
                may_take_in[area_code] = perms.can(Action.INTAKE_CASE, Target(area_code=area_code))
            if not may_take_in[area_code]:
                raise NotFound("not_found", _("This grid is not yours to report in."), field="location")
        except (InvalidInput, NotFound) as error:
            errors.extend(ErrorDetail(d.code, d.message, f"rows[{i}].{d.field}" if d.field else f"rows[{i}]")
                          for d in error.errors)
            continue
        cases.append(_new_case(
            actor=actor, channel=channel, request_type=report.request_type, category=report.category, grid=grid,
            region=region, area_code=area_code, asset=None, lon=report.lon, lat=report.lat, address=report.address,
            description=description, urgency=report.urgency, is_public=report.is_public,
            anonymous=report.anonymous, reporter_name=report.reporter_name, reporter_phone=report.reporter_phone,
            level=Level.TOWNSHIP, now=now))
    if errors:
        raise rows_refused(errors)
    return cases


def rows_refused(errors: list[ErrorDetail]) -> InvalidInput:
    """One error for a batch whose rows cannot all be taken in: how many rows, and the first
    IMPORT_ERRORS_LISTED details (fields `rows[i].name`)."""
    rows = len({(e.field or "").split(".")[0] for e in errors})
    return InvalidInput("invalid_rows", ngettext("%(n)d row cannot be taken in; nothing was written.",
                                                 "%(n)d rows cannot be taken in; nothing was written.", rows)
                        % {"n": rows}, errors=errors[:IMPORT_ERRORS_LISTED])


def _write_new_cases(cases: list[Case]) -> None:
    """Write new cases as `_new_case` makes them (a bulk intake's chunk, or the single reports of a
    group), each with its own reporter, channel and time, in the caller's transaction: their
    numbers with one update per township counter and day, their possible duplicates with one
    query, the cases with one insert, their report events and outbox rows with one COPY each
    (PostgreSQL). The counters are held from here to the commit."""
    from fengqiao.cases.selectors import duplicate_numbers_many

    labels: dict[int | None, str] = {}  # how each reporter is named on the events, looked up once
    by_counter: dict[tuple[str, str], list[Case]] = {}
    for case in cases:
        if case.reporter_user_id not in labels:
            labels[case.reporter_user_id] = actor_label_of(case.reporter_user)
        day = timezone.localtime(case.created_at).strftime("%Y%m%d")
        by_counter.setdefault((_number_region(case.area_code), day), []).append(case)
    for key in sorted(by_counter):  # always in the same order: two writers never wait on each other in turn
        counted = by_counter[key]
        numbers = next_case_numbers(region_code=key[0], at=counted[0].created_at, count=len(counted))
        for case, number in zip(counted, numbers, strict=True):
            case.number = number
    events = [build_event(case=case, action=A.REPORT, actor=case.reporter_user, actor_label=labels[case.reporter_user_id],
                          from_state="", to_state=S.REPORTED, now=case.created_at,
                          payload={"channel": case.channel, "possible_duplicates": duplicates})
              for case, duplicates in zip(cases, duplicate_numbers_many(cases=cases), strict=True)]
    Case.objects.bulk_create(cases)
    for event in events:
        event.case_id = event.case.pk
    insert_rows(CaseEvent, EVENT_FIELDS, row_values(events, EVENT_FIELDS))
    write_notices((case, "case.reported", event.seq) for case, event in zip(cases, events, strict=True))


# -- the generic transition --------------------------------------------------------------------
def _load_for_update(number: str) -> Case:
    case = Case.objects.select_for_update(of=("self",)).select_related("category", "region", "grid").filter(number=number).first()
    if case is None:
        raise NotFound("not_found", _("No such case."))
    return case


def _check(case: Case, actor: Any, action: CaseAction, expected_version: int | None, reason: str,
           reason_field: str = "reason") -> None:
    perms = permissions_for(actor)
    if not perms.can(Action.VIEW_CASE, case) and not any(perms.can(p, case) for p in TRANSITIONS[action].permissions):
        raise NotFound("not_found", _("No such case."))
    if expected_version is not None and expected_version != case.version:
        raise Conflict("stale_version", _("The case changed since you saw it (version %(seen)s, now %(now)s). "
                                          "Reload and try again.") % {"seen": expected_version, "now": case.version})
    transition = TRANSITIONS[action]
    if case.state not in transition.sources:
        raise TransitionNotAllowed("transition_not_allowed", _("A case that is %(state)s cannot be %(action)s.") % {
            "state": S(case.state).label, "action": action.label})
    if not may_act(perms, case, action):
        raise Forbidden("forbidden", _("Your role does not allow this action on this case."))
    if transition.needs_reason and not reason.strip():
        raise _invalid(reason_field, "required", _("Give a reason."))
    if len(reason) > REASON_MAX:
        raise _invalid(reason_field, "too_long", _("This text is limited to %(n)d characters.") % {"n": REASON_MAX})


@transaction.atomic
def _transition(
    *, actor: Any, number: str, action: CaseAction, expected_version: int | None, reason: str = "",
    apply: Callable[[Case, Any], dict[str, Any] | None] | None = None, photos: Sequence[Photo] = (),
    topic: str | None = None, is_public: bool = True, reason_field: str = "reason",
) -> Case:
    case = _load_for_update(number)
    _check(case, actor, action, expected_version, reason, reason_field)
    _check_photos(photos)
    now = clock.now()
    from_state = case.state
    target = TRANSITIONS[action].target
    if target is not None:
        case.state = target
    if target == S.SUSPENDED:
        case.state_before = from_state
    payload = (apply(case, now) if apply else None) or {}
    if case.state != from_state and action not in (A.SUSPEND, A.RESUME):
        deadlines.start_stage(case, now)
    if case.state in FINAL_STATES or action == A.ANSWER:
        deadlines.mark_answered(case, now)  # a rejection, a closing or a merge answers the resident too
    case.version += 1
    case.updated_at = now
    event = append_event(case=case, action=action, actor=actor, from_state=from_state, to_state=case.state,
                         reason=reason.strip(), payload=payload, now=now, is_public=is_public)
    case.save()
    _store_photos(case, event, photos, now)
    _notify(case, topic or f"case.{action}", event_seq=event.seq)
    return case


# -- transitions -------------------------------------------------------------------------------
def case_accept(*, actor: Any, number: str, expected_version: int | None = None, reason: str = "") -> Case:
    def apply(case: Case, now) -> None:
        case.accepted_at = now

    return _transition(actor=actor, number=number, action=A.ACCEPT, expected_version=expected_version,
                       reason=reason, apply=apply)


def case_reject(*, actor: Any, number: str, reason: str, expected_version: int | None = None) -> Case:
    return _transition(actor=actor, number=number, action=A.REJECT, expected_version=expected_version, reason=reason)


def case_recategorise(*, actor: Any, number: str, category: Category, expected_version: int | None = None,
                      reason: str = "") -> Case:
    if not category.is_active:
        raise _invalid("category", "inactive", _("This category is no longer in use."))

    def apply(case: Case, now) -> dict[str, Any]:
        old = case.category
        case.category, case.platform_id = category, category.platform_id
        deadlines.start_stage(case, case.stage_started_at or now)
        return {"from_category": old.code, "to_category": category.code}

    return _transition(actor=actor, number=number, action=A.RECATEGORISE, expected_version=expected_version,
                       reason=reason, apply=apply)


def case_merge(*, actor: Any, number: str, master_number: str, expected_version: int | None = None,
               reason: str = "") -> Case:
    master = Case.objects.filter(number=master_number).first()
    if master is None or master.number == number or not permissions_for(actor).can(Action.VIEW_CASE, master):
        raise _invalid("master_number", "not_found", _("No such case to merge into."))
    if master.state in (S.MERGED, S.REJECTED):
        raise _invalid("master_number", "invalid_master", _("Merge into a case that is still valid."))

    def apply(case: Case, now) -> dict[str, Any]:
        case.duplicate_of = master
        return {"master": master.number}

    return _transition(actor=actor, number=number, action=A.MERGE, expected_version=expected_version,
                       reason=reason, apply=apply)


def suggest_route(*, case: Case, min_level: Level | None = None):
    return route(category=case.category, area_code=case.area_code, at=clock.now(), min_level=min_level)


def case_dispatch(*, actor: Any, number: str, department: Department | None = None,
                  expected_version: int | None = None, reason: str = "") -> Case:
    """Dispatch to `department`, or to the routing suggestion when none is given."""

    def apply(case: Case, now) -> dict[str, Any]:
        decision = suggest_route(case=case, min_level=Level(case.level) if case.level != Level.GRID else None)
        chosen = department or (decision.department if decision else None)
        if chosen is None:
            raise _invalid("department", "no_route", _("No department serves this case: choose one."))
        case.lead_department = chosen
        case.level = department_level(chosen)
        case.dispatched_at = now
        suggested = decision.department if decision else None
        case.routing_reason = (decision.reason if decision and suggested == chosen
                               else _("Chosen by the dispatcher."))[:300]
        return {"department": chosen.code, "suggested": suggested.code if suggested else None,
                "why": decision.reason if decision else None, "basis": decision.basis if decision else None}

    return _transition(actor=actor, number=number, action=A.DISPATCH, expected_version=expected_version,
                       reason=reason, apply=apply)


def case_return(*, actor: Any, number: str, reason: str, expected_version: int | None = None) -> Case:
    def apply(case: Case, now) -> dict[str, Any]:
        department = case.lead_department
        case.lead_department = None
        return {"returned_by": department.code if department else None}

    return _transition(actor=actor, number=number, action=A.RETURN, expected_version=expected_version,
                       reason=reason, apply=apply)


def case_start(*, actor: Any, number: str, expected_version: int | None = None) -> Case:
    return _transition(actor=actor, number=number, action=A.START, expected_version=expected_version)


def case_report_back(*, actor: Any, number: str, result: str, photos: Sequence[Photo] = (),
                     expected_version: int | None = None) -> Case:
    def apply(case: Case, now) -> dict[str, Any]:
        pending = [a.department.name for a in case.assists.select_related("department") if a.reported_at is None]
        if pending:
            raise _invalid("assists", "assist_pending", _("Waiting for the assisting departments: %(names)s.")
                           % {"names": "、".join(pending)})
        on_time = case.due_at is None or now <= case.due_at
        case.closed_on_time = on_time if case.closed_on_time is None else (case.closed_on_time and on_time)
        case.handled_at = now
        return {"on_time": on_time}

    if not result.strip():
        raise _invalid("result", "required", _("Say what was done."))
    return _transition(actor=actor, number=number, action=A.REPORT_BACK, expected_version=expected_version,
                       reason=result, apply=apply, photos=[Photo(p.data, CaseAttachment.Kind.AFTER) for p in photos],
                       reason_field="result")


def case_verify(*, actor: Any, number: str, passed: bool, note: str = "", photos: Sequence[Photo] = (),
                expected_version: int | None = None) -> Case:
    """On-site verification: passed closes the case; failed sends it back to the department (rework)."""

    def apply(case: Case, now) -> dict[str, Any]:
        if passed:
            case.state = S.CLOSED
            case.closed_at = now
        else:
            case.state = S.DISPATCHED
            case.rework_count += 1
        return {"passed": passed}

    if not passed and not note.strip():
        raise _invalid("note", "required", _("Say why the verification failed."))
    return _transition(actor=actor, number=number, action=A.VERIFY, expected_version=expected_version,
                       reason=note, apply=apply, topic="case.closed" if passed else "case.rework",
                       photos=[Photo(p.data, CaseAttachment.Kind.VERIFY) for p in photos], reason_field="note")


def case_rate(*, actor: Any, number: str, rating: int, comment: str = "", expected_version: int | None = None) -> Case:
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise _invalid("rating", "out_of_range", _("A rating is a whole number from 1 to 5."))
    if len(comment) > REASON_MAX:
        raise _invalid("comment", "too_long", _("The comment is limited to %(n)d characters.") % {"n": REASON_MAX})

    def apply(case: Case, now) -> dict[str, Any]:
        case.rating, case.rating_comment, case.rated_at = rating, comment.strip(), now
        return {"rating": rating}

    return _transition(actor=actor, number=number, action=A.RATE, expected_version=expected_version,
                       reason=comment, apply=apply, reason_field="comment")


def case_reopen(*, actor: Any, number: str, reason: str, expected_version: int | None = None) -> Case:
    """Back to the lead department after an unsatisfied rating (or a closing found wrong)."""

    def apply(case: Case, now) -> dict[str, Any]:
        if case.lead_department_id is None:
            case.state = S.ACCEPTED
        case.reopen_count += 1
        case.closed_at = None
        return {"rating": case.rating}

    return _transition(actor=actor, number=number, action=A.REOPEN, expected_version=expected_version,
                       reason=reason, apply=apply)


def case_answer(*, actor: Any, number: str, text: str, expected_version: int | None = None) -> Case:
    """Publish the answer to the resident (a public event); the first one stops the answer clock.
    The lead department or the command centre answers; it may answer again (a follow-up)."""
    return _transition(actor=actor, number=number, action=A.ANSWER, expected_version=expected_version,
                       reason=text, reason_field="text", topic="case.answer")


def _unsatisfied(rating: int, closed_at, now) -> bool:
    from datetime import timedelta

    from django.conf import settings

    return (rating <= int(getattr(settings, "UNSATISFIED_RATING_MAX", 2)) and closed_at is not None
            and now - closed_at <= timedelta(days=int(getattr(settings, "RATING_REOPEN_DAYS", 7))))


@transaction.atomic
def case_rate_by_resident(*, code: str, rating: int, comment: str = "", phone_last4: str = "",
                          user: Any = None) -> Case:
    """The resident rates the result of a closed case, found by its tracking code (and the last four
    digits of the phone given, or the resident's account). An unsatisfied rating (1 to
    UNSATISFIED_RATING_MAX) within RATING_REOPEN_DAYS of the closing sends the case back to the
    command centre for review."""
    from fengqiao.cases.public import case_for_resident

    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise _invalid("rating", "out_of_range", _("A rating is a whole number from 1 to 5."))
    comment = (comment or "").strip()
    if len(comment) > REASON_MAX:
        raise _invalid("comment", "too_long", _("The comment is limited to %(n)d characters.") % {"n": REASON_MAX})
    found = case_for_resident(code=code, phone_last4=phone_last4, user=user)
    case = _load_for_update(found.number)
    if case.state != S.CLOSED:
        raise TransitionNotAllowed("not_closed", _("Only a closed case can be rated; this one is %(state)s.")
                                   % {"state": S(case.state).label})
    now = clock.now()
    reporter = user if getattr(user, "is_authenticated", False) and user.pk == case.reporter_user_id else None
    label = None if reporter else "resident"
    case.rating, case.rating_comment, case.rated_at = rating, comment, now
    case.state = S.RATED
    events = [build_event(case=case, action=A.RATE, actor=reporter, actor_label=label, from_state=S.CLOSED,
                          to_state=S.RATED, reason=comment, payload={"rating": rating}, now=now)]
    topic = None
    if _unsatisfied(rating, case.closed_at, now):
        case.state = S.ACCEPTED
        case.reopen_count += 1
        case.closed_at = None
        deadlines.start_stage(case, now)
        events.append(build_event(case=case, action=A.REOPEN, actor=reporter, actor_label=label, from_state=S.RATED,
                                  to_state=S.ACCEPTED, reason=comment, now=now,
                                  payload={"rating": rating, "unsatisfied": True}))
        topic = "case.review"
    case.version += 1
    case.updated_at = now
    case.save()
    CaseEvent.objects.bulk_create(events)
    if topic:
        _notify(case, topic)
    return case


def case_request_extension(*, actor: Any, number: str, working_days: int, reason: str,
                           expected_version: int | None = None) -> Case:
    if not isinstance(working_days, int) or not 1 <= working_days <= 60:
        raise _invalid("working_days", "out_of_range", _("Ask for 1 to 60 working days."))

    def apply(case: Case, now) -> dict[str, Any]:
        if case.extension_requested:
            raise TransitionNotAllowed("extension_pending", _("An extension request is already waiting."))
        case.extension_requested = True
        return {"working_days": working_days}

    return _transition(actor=actor, number=number, action=A.REQUEST_EXTENSION, expected_version=expected_version,
                       reason=reason, apply=apply)


def case_decide_extension(*, actor: Any, number: str, approve: bool, working_days: int | None = None,
                          reason: str = "", expected_version: int | None = None) -> Case:
    def apply(case: Case, now) -> dict[str, Any]:
        if not case.extension_requested:
            raise TransitionNotAllowed("no_extension_request", _("No extension was requested."))
        requested = (case.events.filter(action=A.REQUEST_EXTENSION).order_by("-seq")
                     .values_list("payload", flat=True).first() or {}).get("working_days", 0)
        days = working_days or requested
        case.extension_requested = False
        old_due = case.due_at
        if approve:
            deadlines.extend(case, days)
        return {"approved": approve, "working_days": days if approve else 0,
                "old_due": old_due.isoformat() if old_due else None,
                "new_due": case.due_at.isoformat() if case.due_at else None}

    return _transition(actor=actor, number=number, action=A.DECIDE_EXTENSION, expected_version=expected_version,
                       reason=reason, apply=apply)


def case_suspend(*, actor: Any, number: str, reason: str, expected_version: int | None = None) -> Case:
    """缓办: the clock stops until the case is resumed."""

    def apply(case: Case, now) -> dict[str, Any]:
        case.suspended_at = now
        case.next_due_at = None
        return {"state_before": case.state_before}

    return _transition(actor=actor, number=number, action=A.SUSPEND, expected_version=expected_version,
                       reason=reason, apply=apply)


def case_resume(*, actor: Any, number: str, expected_version: int | None = None, reason: str = "") -> Case:
    def apply(case: Case, now) -> dict[str, Any]:
        case.state = case.state_before or S.ACCEPTED
        paused_from = case.suspended_at or now
        deadlines.shift_deadlines(case, paused_from, now)
        case.suspended_at = None
        case.state_before = ""
        return {"paused_from": paused_from.isoformat()}

    return _transition(actor=actor, number=number, action=A.RESUME, expected_version=expected_version,
                       reason=reason, apply=apply)


def case_park(*, actor: Any, number: str, reason: str, expected_version: int | None = None) -> Case:
    """挂账: cannot be solved now; tracked and shown in every report."""
    return _transition(actor=actor, number=number, action=A.PARK, expected_version=expected_version, reason=reason)


def case_unpark(*, actor: Any, number: str, reason: str = "", expected_version: int | None = None) -> Case:
    def apply(case: Case, now) -> None:
        case.lead_department = None

    return _transition(actor=actor, number=number, action=A.UNPARK, expected_version=expected_version,
                       reason=reason, apply=apply)


def _escalate(case: Case, now) -> dict[str, Any]:
    index = LEVEL_ORDER.index(Level(case.level))
    if index + 1 >= len(LEVEL_ORDER):
        raise TransitionNotAllowed("top_level", _("The case is already at county level."))
    old = case.level
    case.level = LEVEL_ORDER[max(index + 1, LEVEL_ORDER.index(Level.TOWNSHIP))]
    previous = case.lead_department
    case.lead_department = None
    decision = suggest_route(case=case, min_level=Level(case.level))
    return {"from_level": old, "to_level": case.level, "previous_department": previous.code if previous else None,
            "suggested": decision.department.code if decision else None}


def case_escalate(*, actor: Any, number: str, reason: str, expected_version: int | None = None) -> Case:
    """Move the case up a level ("大事全网联动"): it waits for dispatch there."""
    return _transition(actor=actor, number=number, action=A.ESCALATE, expected_version=expected_version,
                       reason=reason, apply=_escalate)


def case_request_assist(*, actor: Any, number: str, departments: Sequence[Department], reason: str = "",
                        expected_version: int | None = None) -> Case:
    if not departments:
        raise _invalid("departments", "required", _("Choose at least one department."))

    def apply(case: Case, now) -> dict[str, Any]:
        added = []
        for department in departments:
            if department.pk == case.lead_department_id:
                raise _invalid("departments", "is_lead", _("The lead department does not assist itself."))
            _assist, created = CaseAssist.objects.get_or_create(case=case, department=department,
                                                                defaults={"requested_at": now})
            if created:
                added.append(department.code)
        return {"departments": added}

    return _transition(actor=actor, number=number, action=A.REQUEST_ASSIST, expected_version=expected_version,
                       reason=reason, apply=apply)


def case_assist_report(*, actor: Any, number: str, department: Department, report: str,
                       expected_version: int | None = None) -> Case:
    if not report.strip():
        raise _invalid("report", "required", _("Say what your department did."))

    def apply(case: Case, now) -> dict[str, Any]:
        assist = case.assists.filter(department=department).first()
        if assist is None:
            raise _invalid("department", "not_assisting", _("This department is not assisting on the case."))
        if not permissions_for(actor).can(Action.HANDLE_CASE, department):
            raise Forbidden("forbidden", _("Report only for your own department."))
        assist.reported_at, assist.report = now, report.strip()
        assist.save()
        return {"department": department.code}

    return _transition(actor=actor, number=number, action=A.ASSIST_REPORT, expected_version=expected_version,
                       reason=report, apply=apply, reason_field="report")


def case_flag(*, actor: Any, number: str, reason: str = "", expected_version: int | None = None) -> Case:
    """挂牌督办: a leader flags the case for supervision."""

    def apply(case: Case, now) -> None:
        case.supervised = True

    return _transition(actor=actor, number=number, action=A.FLAG, expected_version=expected_version,
                       reason=reason, apply=apply)


def case_remind(*, actor: Any, number: str, reason: str = "", expected_version: int | None = None) -> Case:
    def apply(case: Case, now) -> None:
        case.reminder_count += 1

    return _transition(actor=actor, number=number, action=A.REMIND, expected_version=expected_version,
                       reason=reason, apply=apply)


# -- the deadline sweep ------------------------------------------------------------------------
@dataclass
class SweepReport:
    looked_at: int = 0
    warned: int = 0
    overdue: int = 0
    escalated: int = 0


@dataclass
class _SweepBatch:
    """What one batch of the sweep writes at its end: the cases, their events and, for the events
    someone must hear of, a pending notice each (fanned out to the recipients by the worker's next
    step, cases.notifications.fan_out_notices)."""

    cases: list[Case] = field(default_factory=list)
    events: list[CaseEvent] = field(default_factory=list)
    notices: list[list[Any]] = field(default_factory=list)  # PendingNotice rows, NOTICE_FIELDS

    def event(self, case: Case, action: CaseAction, now, *, from_state: str | None = None, reason: str = "",
              payload: dict[str, Any] | None = None, is_public: bool = False, topic: str | None = None) -> None:
        event = build_event(case=case, action=action, actor=None, from_state=from_state or case.state,
                            to_state=case.state, reason=reason, payload=payload, now=now, is_public=is_public)
        self.events.append(event)
        if topic and not is_muted():
            self.notices.append([case.pk, topic, event.seq, now])

    def write(self) -> None:
        update_rows(self.cases, SWEPT_FIELDS)
        insert_rows(CaseEvent, EVENT_FIELDS, row_values(self.events, EVENT_FIELDS))
        insert_rows(PendingNotice, NOTICE_FIELDS, self.notices)


# the fields a sweep may change on a case (escalation moves it up a level and back to dispatch)
SWEPT_FIELDS = ["state", "level", "lead_department", "warning", "overdue_since", "escalated_for_overdue",
                "reminder_count", "stage_started_at", "due_at", "warn_at", "next_due_at", "answer_warning",
                "version", "updated_at", "last_event_seq", "last_event_hash"]
# what the sweep reads of a case besides: its clocks, its place and category (an escalation routes
# anew), its chain; a field left out would be read with a query per case
SWEPT_READS = [*SWEPT_FIELDS, "number", "category", "urgency", "area_code", "answer_due_at", "answer_warn_at",
               "answered_at"]
EVENT_FIELDS = [f.name for f in CaseEvent._meta.concrete_fields if not f.primary_key]
NOTICE_FIELDS = ["case", "topic", "event_seq", "created_at"]
SWEEP_BATCH = 500
SWEEP_STEPS = 4  # warn, overdue, escalate: a case long due takes them all in one run


def sweep_deadlines(*, limit: int = 1000, batch_size: int = SWEEP_BATCH) -> SweepReport:
    """Find cases whose next look is due (indexed `next_due_at`), warn, mark overdue, escalate; and
    the same for the answer promised to residents.

    Works in batches: one transaction locks up to `batch_size` due cases (on PostgreSQL with SKIP
    LOCKED, so two sweeps or a clerk's open transaction do not wait on each other), moves each on
    in Python, and writes the cases, their events and a pending notice for each event someone must
    hear of, with a few statements. The worker's next step, `notifications.fan_out_notices`, turns
    the notices into outbox rows for their recipients.
    Idempotent: each step moves `next_due_at` on, so a second run finds nothing new to do.
    """
    now = clock.now()
    report = SweepReport()
    seen: set[int] = set()
    if not Case.objects.filter(next_due_at__lte=now).exists():  # most minutes: one indexed read, no transaction
        return report
    while report.looked_at < limit:
        with transaction.atomic():
            commit_without_waiting_for_disk()  # a batch lost in a crash is still due: the next run redoes it
            # the most overdue first; a case another transaction holds is skipped (SKIP LOCKED): it
            # is still due for the next run
            batch = _SweepBatch(cases=list(
                Case.objects.select_for_update(skip_locked=True).only(*SWEPT_READS)
                .filter(next_due_at__lte=now).exclude(pk__in=seen).order_by("next_due_at")
                [: min(batch_size, limit - report.looked_at)]))
            if not batch.cases:
                break
            seen.update(case.pk for case in batch.cases)
            # the few categories and departments of the batch, shared (an escalation routes anew)
            prefetch_related_objects(batch.cases, "category", "lead_department")
            for case in batch.cases:
                report.looked_at += 1
                for _step in range(SWEEP_STEPS):
                    if case.next_due_at is None or case.next_due_at > now:
                        break
                    _sweep_step(case, now, report, batch)
                case.version += 1
                case.updated_at = now
            batch.write()
    return report


def _sweep_step(case: Case, now, report: SweepReport, batch: _SweepBatch) -> None:
    """One move of a due case: the answer clock first, then the stage's."""
    answer = _sweep_answer(case, now, batch)
    if answer:
        report.warned += answer == DeadlineWarning.YELLOW
        report.overdue += answer == DeadlineWarning.RED
    elif case.warning == DeadlineWarning.NONE and case.warn_at and case.warn_at <= now and case.due_at > now:
        case.warning = DeadlineWarning.YELLOW
        batch.event(case, A.WARN, now, payload={"due_at": case.due_at.isoformat() if case.due_at else None},
                    topic="case.warning")
        report.warned += 1
    elif case.warning != DeadlineWarning.RED and case.due_at and case.due_at <= now:
        case.warning = DeadlineWarning.RED
        case.overdue_since = case.due_at
        case.reminder_count += 1
        batch.event(case, A.OVERDUE, now, payload={"due_at": case.due_at.isoformat()}, topic="case.overdue")
        report.overdue += 1
    elif (case.warning == DeadlineWarning.RED and not case.escalated_for_overdue
          and (deadlines.escalation_due(case) or now) <= now):
        case.escalated_for_overdue = True
        if case.state in TRANSITIONS[A.ESCALATE].sources and case.level != Level.COUNTY:
            from_state = case.state
            payload = _escalate(case, now)
            case.state = S.ACCEPTED
            batch.event(case, A.ESCALATE, now, from_state=from_state, reason=_("Overdue past the grace period."),
                        payload=payload, is_public=True, topic="case.escalated")
            deadlines.start_stage(case, now)
            report.escalated += 1
    case.next_due_at = deadlines.next_look(case)


def _sweep_answer(case: Case, now, batch: _SweepBatch) -> str:
    """Yellow, then red, on the answer promised to a resident; the new warning, or "" for none."""
    look = deadlines.answer_next_look(case)
    if look is None or look > now:
        return ""
    payload = {"deadline": "answer", "due_at": case.answer_due_at.isoformat() if case.answer_due_at else None}
    if case.answer_warning == DeadlineWarning.NONE and case.answer_due_at and case.answer_due_at > now:
        case.answer_warning = DeadlineWarning.YELLOW
        batch.event(case, A.WARN, now, payload=payload, topic="case.answer_warning")
    else:
        case.answer_warning = DeadlineWarning.RED
        batch.event(case, A.OVERDUE, now, payload=payload, topic="case.answer_overdue")
    case.next_due_at = deadlines.next_look(case)
    return case.answer_warning


# -- personal data -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ReporterContact:
    name: str
    phone: str
    anonymous: bool


@transaction.atomic
def case_reveal_reporter(*, actor: Any, number: str, reason: str) -> ReporterContact:
    """The reporter's contact in full, for a role that needs it, with the reason logged (DESIGN §9)."""
    from fengqiao.cases.selectors import case_get
    from fengqiao.core.models import PersonalDataAccess

    case = case_get(actor=actor, number=number)
    if not permissions_for(actor).can(Action.VIEW_PERSONAL_DATA, case):
        raise Forbidden("forbidden", _("Your role does not see reporters' contact details."))
    reason = (reason or "").strip()
    if not reason:
        raise _invalid("reason", "required", _("Say why you need the reporter's contact."))
    if len(reason) > 300:
        raise _invalid("reason", "too_long", _("This text is limited to %(n)d characters.") % {"n": 300})
    PersonalDataAccess.objects.create(actor=actor, subject=f"case {case.number}", fields="reporter_name,reporter_phone",
                                      reason=reason, at=clock.now())
    return ReporterContact(name=case.reporter_name, phone=case.reporter_phone, anonymous=case.anonymous)
