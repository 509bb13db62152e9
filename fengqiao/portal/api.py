"""The API operations of the resident portal, mounted by fengqiao.api.root: public cases and their map
(no personal data; points blurred to the grid). Anonymous callers are welcome."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from fengqiao.cases import selectors as case_selectors
from fengqiao.cases.models import RequestType
from fengqiao.cases.public import PUBLIC_STATE_GROUPS
from fengqiao.portal import selectors

router = Router(tags=["portal"])
LIMIT_MAX = 500


class PublicCaseOut(Schema):
    number: str
    request_type: str
    request_type_label: str
    category: str
    state: str
    state_label: str
    village: str
    grid: str
    grid_code: str
    point: tuple[float, float] | None
    description: str
    reported_at: datetime
    closed_at: datetime | None
    rating: int | None


def _cases(area_code: str | None, state_group: str | None, request_type: str | None, limit: int) -> list[dict]:
    cases = case_selectors.public_cases(
        area_code=area_code if area_code and area_code.isdigit() else None,
        state_group=state_group if state_group in PUBLIC_STATE_GROUPS else None,
        request_type=request_type if request_type in RequestType.values else None,
    )[:max(1, min(limit, LIMIT_MAX))]
    return [selectors.scrubbed_card(case) for case in cases]


@router.get("/cases", auth=None, response=list[PublicCaseOut], summary="Public cases, newest first")
def list_public_cases(request: HttpRequest, area_code: str | None = None, state_group: str | None = None,
                      request_type: str | None = None, limit: int = 50) -> list[dict]:
    return _cases(area_code, state_group, request_type, limit)


@router.get("/map", auth=None, summary="Grids (GeoJSON) and the public cases' pins, blurred to their grid")
def public_map(request: HttpRequest, area_code: str | None = None, state_group: str | None = None,
               request_type: str | None = None, limit: int = 200) -> dict[str, Any]:
    cards = _cases(area_code, state_group, request_type, limit)
    return {"grids": selectors.grids_geojson(area_code=area_code or ""),
            "pins": [{"number": c["number"], "category": c["category"], "state_label": c["state_label"],
                      "lon": c["point"][0], "lat": c["point"][1]} for c in cards if c["point"]]}
