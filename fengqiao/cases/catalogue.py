"""The category catalogue (事项分类): CSV import and export, and the shipped default catalogue.

The file format, the code scheme and the inheritance rules are described in docs/categories.md.
In short: one row per category, parents referenced by code, time limits as short forms
(``30m``, ``4wh``, ``3wd``, ``7d``) in ``<stage>_<urgency>`` columns; an empty limit cell means
"inherit from the parent".

`catalogue_import` checks the whole file first and writes nothing when any row is wrong: the
`InvalidInput` it raises carries one error per problem, each naming the row (as numbered in a
spreadsheet: the header is row 1), the column and the reason. A valid file is written in one
transaction, parents before children whatever the row order; importing the same file twice
changes nothing the second time.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from fengqiao.cases.models import Category, Stage, TimeLimit, Urgency
from fengqiao.cases.signals import CATALOGUE_KEY
from fengqiao.core.calendar import UNIT_SHORT, TimeUnit
from fengqiao.core.errors import ErrorDetail, InvalidInput
from fengqiao.core.versioning import bump
from fengqiao.org.models import DepartmentKind, Platform

DEFAULTS_PATH = Path(__file__).resolve().parent / "data" / "categories.csv"

# -- columns ----------------------------------------------------------------------------------
REQUIRED_COLUMNS = ["code", "parent_code", "name_zh", "name_en", "platform", "department_kind"]
LIMIT_STAGES = [Stage.HANDLE, Stage.ACCEPT, Stage.DISPATCH, Stage.VERIFY]
LIMIT_URGENCIES = [Urgency.NORMAL, Urgency.URGENT, Urgency.CRITICAL]
LIMIT_COLUMNS: dict[str, tuple[str, str]] = {
    f"{stage.value}_{urgency.value}": (stage.value, urgency.value)
    for stage in LIMIT_STAGES
    for urgency in LIMIT_URGENCIES
}
OPTIONAL_COLUMNS = ["order", "is_active", "description"]
ALL_COLUMNS = REQUIRED_COLUMNS + list(LIMIT_COLUMNS) + OPTIONAL_COLUMNS

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
CODE_MAX = Category._meta.get_field("code").max_length or 30
NAME_MAX = Category._meta.get_field("name_zh").max_length or 100
TRUE_WORDS = {"1", "true", "yes", "y", "是"}
FALSE_WORDS = {"0", "false", "no", "n", "否"}

# -- time-limit short forms -------------------------------------------------------------------
SHORT_TO_UNIT = {short: unit for unit, short in UNIT_SHORT.items()}
LIMIT_MAX_VALUE = 99_999
_LIMIT_RE = re.compile(r"^(\d{1,5})\s*(" + "|".join(sorted(SHORT_TO_UNIT, key=len, reverse=True)) + r")$")

Limit = tuple[int, TimeUnit]
LimitKey = tuple[str, str]  # (stage, urgency)


def parse_time_limit(text: str) -> Limit:
    """'30m' -> (30, minutes), '4wh' -> (4, working hours), '3wd', '7d'; raises ValueError.

    Zero is allowed only as ``0wd`` (by the end of office hours of the day of receipt).
    """
    match = _LIMIT_RE.match(text.strip().lower())
    if not match:
        raise ValueError(
            _("“%(text)s” is not a time limit: write a whole number and a unit, e.g. 30m, 4wh, 3wd or 7d "
              "(minutes, working hours, working days, natural days).") % {"text": text}
        )
    value, unit = int(match[1]), SHORT_TO_UNIT[match[2]]
    if value == 0 and unit is not TimeUnit.WORKING_DAYS:
        raise ValueError(_("“%(text)s”: a time limit of zero is only allowed as 0wd (the same working day).")
                         % {"text": text})
    return value, unit


def format_time_limit(value: int, unit: TimeUnit | str) -> str:
    """(3, working days) -> '3wd'."""
    return f"{value}{UNIT_SHORT[TimeUnit(unit)]}"


# -- results ----------------------------------------------------------------------------------
@dataclass
class ImportResult:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    time_limits: int = 0  # time limits held by the imported categories afterwards
    dry_run: bool = False
    created_codes: list[str] = field(default_factory=list)
    updated_codes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = ngettext(
            "%(rows)d category: %(created)d created, %(updated)d updated, %(unchanged)d unchanged; "
            "%(limits)d time limits.",
            "%(rows)d categories: %(created)d created, %(updated)d updated, %(unchanged)d unchanged; "
            "%(limits)d time limits.",
            self.rows,
        ) % {"rows": self.rows, "created": self.created, "updated": self.updated, "unchanged": self.unchanged,
             "limits": self.time_limits}
        if self.dry_run:
            text += " " + _("(Checked only: nothing was written.)")
        return text


@dataclass
class _Row:
    number: int
    code: str
    parent_code: str
    name_zh: str
    name_en: str
    platform: str  # empty: the parent's
    department_kind: str  # empty: the parent's
    limits: dict[LimitKey, Limit | None]  # only the limit columns present in the file
    order: int | None = None  # None: column absent, leave as is
    is_active: bool | None = None
    description: str | None = None


class _Errors:
    def __init__(self) -> None:
        self.items: list[tuple[int, int, ErrorDetail]] = []

    def add(self, row: int, column: str | None, code: str, reason: str, **params: Any) -> None:
        if column:
            message = _("Row %(row)d, column “%(column)s”: %(reason)s") % {
                "row": row, "column": column, "reason": reason}
        else:
            message = _("Row %(row)d: %(reason)s") % {"row": row, "reason": reason}
        order = ALL_COLUMNS.index(column) if column in ALL_COLUMNS else -1
        self.items.append((row, order, ErrorDetail(code=code, message=message, field=column,
                                                   params={"row": row, "column": column, **params})))

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise self.exception()

    def exception(self) -> InvalidInput:
        details = [detail for _row, _order, detail in sorted(self.items, key=lambda item: item[:2])]
        message = ngettext(
            "The category file has %(count)d error; nothing was imported.",
            "The category file has %(count)d errors; nothing was imported.",
            len(details),
        ) % {"count": len(details)}
        return InvalidInput("invalid_catalogue", message, errors=details)


# -- reading ----------------------------------------------------------------------------------
CsvSource = str | Path | IO[str] | IO[bytes]


def decode_csv(data: bytes) -> str:
    """The text of a CSV file: UTF-8 (a byte-order mark dropped), or the GB18030 a spreadsheet saves."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")  # what a spreadsheet saves as "CSV" on a Chinese desktop
    except UnicodeDecodeError:
        raise InvalidInput("encoding", _("The file is not UTF-8 (nor GB18030) text."), field="file") from None


def read_csv(file: CsvSource) -> list[list[str]]:
    """The records of a CSV file given as a path or an open file (text or bytes)."""
    if isinstance(file, str | Path):
        data: str | bytes = Path(file).read_bytes()
    else:
        data = file.read()
    text = decode_csv(data) if isinstance(data, bytes) else data.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return list(reader)
    except csv.Error as exc:
        errors = _Errors()
        errors.add(reader.line_num, None, "malformed_csv", _("the file is not valid CSV (%(error)s).")
                   % {"error": exc})
        raise errors.exception() from exc


# -- validation -------------------------------------------------------------------------------
def _check_header(header: Sequence[str], errors: _Errors) -> list[str]:
    columns = [cell.strip().removeprefix("\ufeff").strip().lower() for cell in header]
    seen: set[str] = set()
    for column in columns:
        if not column:
            errors.add(1, None, "empty_column_name", _("a column has no name."))
        elif column in seen:
            errors.add(1, column, "duplicate_column", _("the column appears twice."))
        elif column not in ALL_COLUMNS:
            errors.add(1, column, "unknown_column", _("unknown column (known columns: %(columns)s).")
                       % {"columns": ", ".join(ALL_COLUMNS)})
        seen.add(column)
    for column in REQUIRED_COLUMNS:
        if column not in seen:
            errors.add(1, column, "missing_column", _("the required column is missing."))
    return columns


def _parse_row(number: int, cells: dict[str, str], platforms: set[str], kinds: set[str],
               errors: _Errors) -> _Row | None:
    before = len(errors.items)
    code = cells["code"]
    if not code:
        errors.add(number, "code", "required", _("a code is required."))
    elif len(code) > CODE_MAX or not CODE_RE.match(code):
        errors.add(number, "code", "invalid_code",
                   _("“%(code)s” is not a valid code: up to %(max)d letters, digits, dots, hyphens or "
                     "underscores, starting with a letter or digit.") % {"code": code, "max": CODE_MAX})
    parent_code = cells["parent_code"]
    if parent_code and parent_code == code:
        errors.add(number, "parent_code", "own_parent", _("a category cannot be its own parent."))
    for column in ("name_zh", "name_en"):
        if len(cells[column]) > NAME_MAX:
            errors.add(number, column, "too_long", _("longer than %(max)d characters.") % {"max": NAME_MAX})
    if not cells["name_zh"]:
        errors.add(number, "name_zh", "required", _("a Chinese name is required."))
    platform = cells["platform"]
    if platform and platform not in platforms:
        errors.add(number, "platform", "unknown_platform",
                   _("unknown platform “%(value)s” (known: %(known)s).")
                   % {"value": platform, "known": ", ".join(sorted(platforms))}, value=platform)
    kind = cells["department_kind"]
    if kind and kind not in kinds:
        errors.add(number, "department_kind", "unknown_department_kind",
                   _("unknown department kind “%(value)s” (known: %(known)s).")
                   % {"value": kind, "known": ", ".join(sorted(kinds))}, value=kind)
    limits: dict[LimitKey, Limit | None] = {}
    for column, key in LIMIT_COLUMNS.items():
        if column not in cells:
            continue
        text = cells[column]
        if not text:
            limits[key] = None
            continue
        try:
            limits[key] = parse_time_limit(text)
        except ValueError as exc:
            errors.add(number, column, "invalid_time_limit", str(exc), value=text)
    row = _Row(number=number, code=code, parent_code=parent_code, name_zh=cells["name_zh"],
               name_en=cells["name_en"], platform=platform, department_kind=kind, limits=limits)
    if "order" in cells:
        text = cells["order"] or "0"
        if text.isdigit() and int(text) < 2**31:
            row.order = int(text)
        else:
            errors.add(number, "order", "invalid_number", _("“%(value)s” is not a whole number.") % {"value": text})
    if "is_active" in cells:
        text = cells["is_active"].lower()
        if text in TRUE_WORDS or not text:
            row.is_active = True
        elif text in FALSE_WORDS:
            row.is_active = False
        else:
            errors.add(number, "is_active", "invalid_boolean",
                       _("“%(value)s” is not yes or no (write 1 or 0).") % {"value": cells["is_active"]})
    if "description" in cells:
        row.description = cells["description"]
    return row if len(errors.items) == before else None


@dataclass
class _Plan:
    rows: list[_Row]  # parents before children
    platform_ids: dict[str, int]
    kind_ids: dict[str, int]
    effective_platform: dict[str, str]
    effective_kind: dict[str, str]


def _plan(records: Sequence[Sequence[str]]) -> _Plan:
    errors = _Errors()
    if not records or not any(cell.strip() for cell in records[0]):
        errors.add(1, None, "empty_file", _("the file is empty: the first row must name the columns."))
        errors.raise_if_any()
    columns = _check_header(records[0], errors)
    errors.raise_if_any()

    platform_ids = dict(Platform.objects.values_list("code", "pk"))
    kind_ids = dict(DepartmentKind.objects.values_list("code", "pk"))
    rows: list[_Row] = []
    first_row_of: dict[str, int] = {}
    for number, record in enumerate(records[1:], start=2):
        if not any(cell.strip() for cell in record):
            continue  # blank lines and rows of empty cells that spreadsheets leave behind
        if len(record) != len(columns):
            errors.add(number, None, "wrong_column_count",
                       _("the row has %(found)d cells but the header has %(expected)d columns "
                         "(a missing or extra separator?).") % {"found": len(record), "expected": len(columns)})
            code = record[columns.index("code")].strip() if len(record) > columns.index("code") else ""
            if code:
                first_row_of.setdefault(code, number)  # so that its children do not also report it unknown
            continue
        cells = {column: cell.strip() for column, cell in zip(columns, record, strict=True)}
        code = cells["code"]
        if code and code in first_row_of:
            errors.add(number, "code", "duplicate_code", _("the code “%(code)s” is already used on row %(first)d.")
                       % {"code": code, "first": first_row_of[code]}, value=code)
            continue
        if code:
            first_row_of[code] = number
        row = _parse_row(number, cells, set(platform_ids), set(kind_ids), errors)
        if row is not None:
            rows.append(row)

    # the tree as it will be: the database's categories overlaid with the file's
    stored = {code: (parent or "", platform or "", kind or "") for code, parent, platform, kind in
              Category.objects.values_list("code", "parent__code", "platform__code", "department_kind__code")}
    parent_of = {code: parent for code, (parent, _p, _k) in stored.items()}
    parent_of.update({row.code: row.parent_code for row in rows})
    by_code = {row.code: row for row in rows}
    good: list[_Row] = []
    for row in rows:
        if row.parent_code and row.parent_code not in parent_of and row.parent_code not in first_row_of:
            errors.add(row.number, "parent_code", "unknown_parent",
                       _("unknown parent “%(value)s”: it is neither in the file nor in the catalogue.")
                       % {"value": row.parent_code}, value=row.parent_code)
            continue
        seen, node = [row.code], row.parent_code
        while node and node in parent_of:
            if node in seen:
                loop = " → ".join([*seen[seen.index(node):], node])
                errors.add(row.number, "parent_code", "parent_cycle", _("the parents form a loop: %(loop)s.")
                           % {"loop": loop})
                break
            seen.append(node)
            node = parent_of[node]
        else:
            good.append(row)
    errors.raise_if_any()

    # platform and department kind: an empty cell takes the parent's
    effective_platform: dict[str, str] = {}
    effective_kind: dict[str, str] = {}

    def resolve(code: str, attribute: str, memo: dict[str, str], stored_index: int) -> str:
        if code in memo:
            return memo[code]
        row = by_code.get(code)
        if row is None:
            return stored.get(code, ("", "", ""))[stored_index]
        value = getattr(row, attribute) or (resolve(row.parent_code, attribute, memo, stored_index)
                                            if row.parent_code else "")
        memo[code] = value
        return value

    for row in good:
        if not resolve(row.code, "platform", effective_platform, 1):
            errors.add(row.number, "platform", "required",
                       _("a platform is required for a category without a parent."))
        resolve(row.code, "department_kind", effective_kind, 2)
    errors.raise_if_any()

    depth: dict[str, int] = {}

    def depth_of(code: str) -> int:
        if code not in depth:
            parent = parent_of.get(code, "")
            depth[code] = depth_of(parent) + 1 if parent else 0
        return depth[code]

    good.sort(key=lambda row: (depth_of(row.code), row.number))
    return _Plan(rows=good, platform_ids=platform_ids, kind_ids=kind_ids,
                 effective_platform=effective_platform, effective_kind=effective_kind)


# -- import -----------------------------------------------------------------------------------
def _check_actor(actor: Any) -> None:
    if actor is None:
        return  # the system itself: migrations, the demo, the command line
    from fengqiao.org.permissions import Action, permissions_for

    if not permissions_for(actor).may_ever(Action.MANAGE_CATEGORIES):
        raise PermissionDenied(_("You may not change the category catalogue."))


def catalogue_import(*, rows: Sequence[Sequence[str]] | None = None, file: CsvSource | None = None,
                     actor: Any = None, dry_run: bool = False) -> ImportResult:
    """Check every row, then create or update the categories in one transaction.

    Give either `rows` (CSV records, the first naming the columns) or `file` (a path or an open
    file, text or bytes). Raises `InvalidInput` with one error per problem and writes nothing when
    any row is wrong. Categories that the file does not mention are left as they are; a time-limit
    column present in the file replaces that limit of every category in the file (an empty cell
    removes it, so that it is inherited), a column absent from the file leaves it alone.
    """
    if (rows is None) == (file is None):
        raise TypeError("give either rows or file")
    _check_actor(actor)
    if rows is not None:
        records = [["" if cell is None else str(cell) for cell in record] for record in rows]
    else:
        assert file is not None
        records = read_csv(file)
    with transaction.atomic():
        plan = _plan(records)
        result = ImportResult(rows=len(plan.rows), dry_run=dry_run)
        codes = {row.code for row in plan.rows} | {row.parent_code for row in plan.rows if row.parent_code}
        categories = {c.code: c for c in Category.objects.select_for_update().filter(code__in=codes)}
        stored_limits: dict[int, dict[LimitKey, Limit]] = {}
        for category_id, stage, urgency, value, unit in TimeLimit.objects.filter(
            category_id__in=[c.pk for c in categories.values()]
        ).values_list("category_id", "stage", "urgency", "value", "unit"):
            stored_limits.setdefault(category_id, {})[(stage, urgency)] = (value, TimeUnit(unit))

        replace: dict[int, dict[LimitKey, Limit]] = {}
        for row in plan.rows:
            kind = plan.effective_kind.get(row.code, "")
            values: dict[str, Any] = {
                "parent_id": categories[row.parent_code].pk if row.parent_code else None,
                "name_zh": row.name_zh,
                "name_en": row.name_en,
                "platform_id": plan.platform_ids[plan.effective_platform[row.code]],
                "department_kind_id": plan.kind_ids[kind] if kind else None,
            }
            for attribute in ("order", "is_active", "description"):
                if getattr(row, attribute) is not None:
                    values[attribute] = getattr(row, attribute)
            category = categories.get(row.code)
            created = category is None
            if category is None:
                category = Category.objects.create(code=row.code, **values)
                categories[row.code] = category
                changed = True
            else:
                changed = any(getattr(category, name) != value for name, value in values.items())
                if changed:
                    for name, value in values.items():
                        setattr(category, name, value)
                    category.save()
            before = stored_limits.get(category.pk, {})
            after = dict(before)
            for key, limit in row.limits.items():
                if limit is None:
                    after.pop(key, None)
                else:
                    after[key] = limit
            if after != before:
                replace[category.pk] = after
                changed = True
            result.time_limits += len(after)
            if created:
                result.created += 1
                result.created_codes.append(row.code)
            elif changed:
                result.updated += 1
                result.updated_codes.append(row.code)
            else:
                result.unchanged += 1

        if replace:
            TimeLimit.objects.filter(category_id__in=list(replace)).delete()
            TimeLimit.objects.bulk_create(
                TimeLimit(category_id=category_id, stage=stage, urgency=urgency, value=value, unit=unit.value)
                for category_id, limits in replace.items()
                for (stage, urgency), (value, unit) in sorted(limits.items())
            )
            bump(CATALOGUE_KEY)  # bulk writes send no signals
        if dry_run:
            transaction.set_rollback(True)
    return result


def catalogue_load_defaults(*, actor: Any = None) -> ImportResult:
    """Load (or bring up to date) the default catalogue shipped in cases/data/categories.csv."""
    return catalogue_import(file=DEFAULTS_PATH, actor=actor)


# -- export -----------------------------------------------------------------------------------
def _tree_order(categories: list[Category]) -> list[Category]:
    """Parents before children, siblings by (order, code); a category whose parent is not in
    the list starts a tree of its own."""
    present = {c.pk for c in categories}
    children: dict[int | None, list[Category]] = {}
    for category in categories:
        key = category.parent_id if category.parent_id in present else None
        children.setdefault(key, []).append(category)
    for siblings in children.values():
        siblings.sort(key=lambda c: (c.order, c.code))
    ordered: list[Category] = []
    stack = list(reversed(children.get(None, [])))
    visited: set[int] = set()
    while stack:
        category = stack.pop()
        if category.pk in visited:
            continue
        visited.add(category.pk)
        ordered.append(category)
        stack.extend(reversed(children.get(category.pk, [])))
    # a loop of parents (only possible through hand edits) is still written out
    ordered.extend(c for c in sorted(categories, key=lambda c: c.code) if c.pk not in visited)
    return ordered


def catalogue_export(*, stream: IO[str], categories: QuerySet[Category] | Iterable[Category] | None = None,
                     bom: bool = False) -> int:
    """Write the catalogue (or the given categories) to `stream` in the import format.

    Returns the number of categories written. `bom` starts the text with a byte-order mark, which
    spreadsheet programs need to read UTF-8.
    """
    queryset = Category.objects.select_related("parent", "platform", "department_kind").prefetch_related(
        "time_limits"
    )
    if isinstance(categories, QuerySet):
        queryset = queryset.filter(pk__in=categories.values_list("pk", flat=True))
    elif categories is not None:
        queryset = queryset.filter(pk__in=[c.pk for c in categories])
    if bom:
        stream.write("\ufeff")
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(ALL_COLUMNS)
    ordered = _tree_order(list(queryset))
    for category in ordered:
        limits = {(limit.stage, limit.urgency): format_time_limit(limit.value, limit.unit)
                  for limit in category.time_limits.all()}
        writer.writerow([
            category.code,
            category.parent.code if category.parent else "",
            category.name_zh,
            category.name_en,
            category.platform.code,
            category.department_kind.code if category.department_kind else "",
            *(limits.get(key, "") for key in LIMIT_COLUMNS.values()),
            category.order,
            "1" if category.is_active else "0",
            category.description,
        ])
    return len(ordered)
