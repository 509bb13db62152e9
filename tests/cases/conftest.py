"""A township with departments, routing, a category and staff of every role for the case loop."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from fengqiao.cases.models import Channel, TimeLimit
from fengqiao.core.calendar import TimeUnit
from fengqiao.org.models import DepartmentKind, Role
from tests.factories import AssignmentFactory, CategoryFactory, DepartmentFactory, UserFactory

TZ = ZoneInfo("Asia/Shanghai")


class Clock:
    """Moves the platform's clock (fengqiao.core.clock.now) in tests."""

    def __init__(self, monkeypatch, start: datetime):
        self.now = start
        monkeypatch.setattr("fengqiao.core.clock.now", lambda: self.now)

    def set(self, *args) -> datetime:
        self.now = datetime(*args, tzinfo=TZ)
        return self.now


@dataclass
class Loop:
    territory: object
    category: object
    command: object
    enforcement: object
    county_enforcement: object
    other_enforcement: object
    operator: object
    handler: object
    county_handler: object
    other_handler: object
    grid_worker: object
    leader: object
    other_operator: object
    grid: object

    def point(self, grid=None):
        return self.territory.grid_centre(grid or self.grid)

    def report(self, **kwargs):
        from fengqiao.cases.services import case_report

        lon, lat = self.point()
        defaults = dict(actor=self.grid_worker, channel=Channel.GRID_WORKER, category=self.category,
                        description="井盖缺失，行人有危险", lon=lon, lat=lat)
        defaults.update(kwargs)
        return case_report(**defaults)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, datetime(2025, 11, 10, 9, 0, tzinfo=TZ))  # a Monday


@pytest.fixture
def loop(territory, clock) -> Loop:
    town_a, town_b = territory.townships
    kind = DepartmentKind.objects.get(code="command_centre")
    command = DepartmentFactory(code="a-command", region=town_a, kind=kind)
    enforcement = DepartmentFactory(code="a-enforcement", region=town_a)
    county_enforcement = DepartmentFactory(code="county-enforcement", region=territory.county)
    other_enforcement = DepartmentFactory(code="b-enforcement", region=town_b)
    category = CategoryFactory(code="0601", name_zh="占道经营", name_en="Road occupation")
    TimeLimit.objects.create(category=category, stage="handle", urgency="normal", value=2,
                             unit=TimeUnit.WORKING_DAYS)

    def staff(role, **scope):
        user = UserFactory()
        AssignmentFactory(user=user, role=role, **scope)
        return user

    grid = territory.grids[0]
    return Loop(
        territory=territory, category=category, command=command, enforcement=enforcement,
        county_enforcement=county_enforcement, other_enforcement=other_enforcement,
        operator=staff(Role.OPERATOR, region=town_a),
        handler=staff(Role.HANDLER, department=enforcement),
        county_handler=staff(Role.HANDLER, department=county_enforcement),
        other_handler=staff(Role.HANDLER, department=other_enforcement),
        grid_worker=staff(Role.GRID_WORKER, grid=grid),
        leader=staff(Role.LEADER, region=town_a),
        other_operator=staff(Role.OPERATOR, region=town_b),
        grid=grid,
    )
