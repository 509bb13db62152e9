"""Reports from a CSV file, for bulk intake (`case_import`; `fengqiao cases import`).

One report a row, a header on the first: `category` (a catalogue code) and `description` are
required; `lon` and `lat` (WGS-84 degrees) or `grid` (a grid code) place it; `address`,
`urgency`, `request_type`, `public`, `anonymous`, `reporter_name` and `reporter_phone` are
optional. The file is UTF-8 (a spreadsheet's GB18030 is read too). See docs/cases.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from fengqiao.cases.catalogue import CsvSource, read_csv
from fengqiao.cases.models import Case, Category, Channel, RequestType, Urgency
from fengqiao.cases.services import IncomingReport, case_import, rows_refused
from fengqiao.core.errors import ErrorDetail, InvalidInput
from fengqiao.geo.models import Grid

COLUMNS = ("category", "description", "lon", "lat", "grid", "address", "urgency", "request_type", "public",
           "anonymous", "reporter_name", "reporter_phone")
REQUIRED = ("category", "description")
MAX_ROWS = 100_000
_YES = {"1", "yes", "y", "true", "是"}
_NO = {"0", "no", "n", "false", "否", ""}
_ROW = re.compile(r"^rows\[(\d+)\]")


def line_of(field: str | None) -> str | None:
    """`rows[7].description` of a report read from a file as `line 9, description` (the header is line 1)."""
    match = _ROW.match(field or "")
    if not match:
        return field
    rest = (field or "")[match.end():].lstrip(".")
    line = _("line %(n)d") % {"n": int(match.group(1)) + 2}
    return f"{line}, {rest}" if rest else line


def take_in_file(*, actor: Any, file: CsvSource, channel: str = Channel.IMPORT, dry_run: bool = False,
                 max_rows: int = MAX_ROWS, idempotency_key: str | None = None) -> list[Case]:
    """Read the file and take in its reports (`case_import`: every row or none; with an
    idempotency key, taking the same file in again returns the cases of the first time). With
    `dry_run` everything is checked and written in a transaction that is rolled back: the cases
    are returned with the numbers they would have had, and nothing stays."""
    reports = reports_from_csv(file, max_rows=max_rows)
    if not dry_run:
        return case_import(actor=actor, reports=reports, channel=channel, idempotency_key=idempotency_key)
    with transaction.atomic():  # the chunks' own transactions nest in this one
        cases = case_import(actor=actor, reports=reports, channel=channel)
        transaction.set_rollback(True)
    return cases


def reports_from_csv(file: CsvSource, *, max_rows: int = MAX_ROWS) -> list[IncomingReport]:
    """The file's rows as reports; every unreadable cell is named (field `rows[i].column`) and none is returned."""
    records = [record for record in read_csv(file) if any(cell.strip() for cell in record)]
    if not records:
        raise InvalidInput("empty_file", _("The file has no header and no rows."), field="file")
    header = [cell.strip().removeprefix("\ufeff").strip().lower() for cell in records[0]]
    unknown = [column for column in header if column not in COLUMNS]
    missing = [column for column in REQUIRED if column not in header]
    if unknown or missing:
        raise InvalidInput("bad_header", _("Unknown columns: %(unknown)s. Missing columns: %(missing)s. "
                                           "The columns are: %(all)s.")
                           % {"unknown": ", ".join(unknown) or "-", "missing": ", ".join(missing) or "-",
                              "all": ", ".join(COLUMNS)}, field="file")
    rows = records[1:]
    if len(rows) > max_rows:
        raise InvalidInput("too_many_rows", _("At most %(n)d rows a file.") % {"n": max_rows}, field="file")
    categories = {c.code: c for c in Category.objects.filter(children__isnull=True)}
    grids = {g.code: g for g in Grid.objects.select_related("region")}
    errors: list[ErrorDetail] = []
    reports = []
    for i, record in enumerate(rows):
        cells = dict(zip(header, (cell.strip() for cell in record), strict=False))
        row_errors: list[ErrorDetail] = []

        def bad(column: str, code: str, message: str) -> None:
            row_errors.append(ErrorDetail(code, message, f"rows[{i}].{column}"))  # noqa: B023 -- used at once

        category = categories.get(cells.get("category", ""))
        if category is None:
            bad("category", "unknown_category", _("No leaf category has the code “%(code)s”.")
                % {"code": cells.get("category", "")})
        grid = None
        if cells.get("grid"):
            grid = grids.get(cells["grid"])
            if grid is None:
                bad("grid", "unknown_grid", _("No grid has the code “%(code)s”.") % {"code": cells["grid"]})
        point = []
        for column in ("lon", "lat"):
            try:
                point.append(float(cells[column]) if cells.get(column) else None)
            except ValueError:
                bad(column, "not_a_number", _("Give a number in degrees."))
                point.append(None)
        flags = []
        for column, default in (("public", True), ("anonymous", False)):
            value = cells.get(column, "").lower()
            if column not in cells or (not value and default):
                flags.append(default)
            elif value in _YES or value in _NO:
                flags.append(value in _YES)
            else:
                bad(column, "not_yes_or_no", _("Write yes or no."))
                flags.append(default)
        if row_errors or category is None:
            errors.extend(row_errors)
            continue
        reports.append(IncomingReport(
            category=category, description=cells.get("description", ""), lon=point[0], lat=point[1], grid=grid,
            address=cells.get("address", ""), urgency=cells.get("urgency") or Urgency.NORMAL,
            request_type=cells.get("request_type") or RequestType.REPORT, is_public=flags[0], anonymous=flags[1],
            reporter_name=cells.get("reporter_name", ""), reporter_phone=cells.get("reporter_phone", "")))
    if errors:
        raise rows_refused(errors)
    return reports


def describe(errors: Sequence[ErrorDetail]) -> list[str]:
    """Errors of a file's rows, one line each, by line number."""
    return [f"{line_of(error.field)}: {error.message}" if error.field else str(error.message) for error in errors]
