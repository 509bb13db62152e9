"""Dispute types, risk rules, risk thresholds and per-level deadlines as data.

The defaults live in fengqiao/mediation/data/*.csv and are loaded by a data migration (and by
`load_defaults()` for the demo and tests). Loading adds what is missing and leaves rows an
administrator edited in the admin as they are.

Files:
- dispute_types.csv: code, parent, name_zh, name_en, order
- risk_rules.csv: code, name_zh (the question), name_en, points, level_floor, numeric, threshold,
  per_unit, order
- risk_levels.csv: level, min_points, then one deadline per stage (assign, first_session,
  conclude) written like the case catalogue's time limits: 30m, 4wh, 3wd, 7d.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

from fengqiao.core.calendar import UNIT_SHORT, TimeUnit

DATA_DIR = Path(__file__).resolve().parent / "data"
SHORT_TO_UNIT = {short: unit for unit, short in UNIT_SHORT.items()}
_LIMIT = re.compile(r"^(\d+)(m|wh|wd|d)$")
STAGES = ("assign", "first_session", "conclude")


def parse_limit(text: str) -> tuple[int, TimeUnit]:
    """'3wd' -> (3, working_days); raises ValueError."""
    match = _LIMIT.match(text.strip())
    if not match:
        raise ValueError(f"not a time limit: {text!r} (e.g. 30m, 4wh, 3wd, 7d)")
    return int(match.group(1)), SHORT_TO_UNIT[match.group(2)]


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def load_defaults(*, apps: Any = None) -> dict[str, int]:
    """Create the default types, rules, thresholds and deadlines that do not exist yet.

    `apps` is a migration's app registry (historical models); by default the live models.
    Returns how many rows of each kind were created.
    """
    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    DisputeType = apps.get_model("mediation", "DisputeType")
    RiskRule = apps.get_model("mediation", "RiskRule")
    RiskThreshold = apps.get_model("mediation", "RiskThreshold")
    MediationDeadline = apps.get_model("mediation", "MediationDeadline")
    created = {"types": 0, "rules": 0, "thresholds": 0, "deadlines": 0}

    for row in _rows("dispute_types.csv"):
        parent = DisputeType.objects.filter(code=row["parent"]).first() if row["parent"] else None
        _obj, made = DisputeType.objects.get_or_create(
            code=row["code"], defaults={"parent": parent, "name_zh": row["name_zh"], "name_en": row["name_en"],
                                        "order": int(row["order"] or 0)})
        created["types"] += made
    for row in _rows("risk_rules.csv"):
        _obj, made = RiskRule.objects.get_or_create(
            code=row["code"], defaults={
                "name_zh": row["name_zh"], "name_en": row["name_en"], "points": int(row["points"] or 0),
                "level_floor": row["level_floor"], "numeric": row["numeric"] == "1",
                "threshold": int(row["threshold"] or 1), "per_unit": int(row["per_unit"] or 0),
                "order": int(row["order"] or 0)})
        created["rules"] += made
    for row in _rows("risk_levels.csv"):
        _obj, made = RiskThreshold.objects.get_or_create(level=row["level"],
                                                          defaults={"min_points": int(row["min_points"])})
        created["thresholds"] += made
        for stage in STAGES:
            value, unit = parse_limit(row[stage])
            _obj, made = MediationDeadline.objects.get_or_create(
                risk_level=row["level"], stage=stage, defaults={"value": value, "unit": unit.value})
            created["deadlines"] += made
    return created
