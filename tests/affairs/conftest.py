"""Fixtures of the village affairs tests: a territory, the people of two villages, a service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from fengqiao.affairs import services as s
from fengqiao.affairs.models import AppointmentService, Slot
from fengqiao.geo.models import Region
from fengqiao.org.models import DepartmentKind, Platform, Role
from tests.factories import AssignmentFactory, CategoryFactory, DepartmentFactory, Territory, UserFactory

PASSWORD = "pass-word-123"


@dataclass
class People:
    territory: Territory
    village: Region
    other_village: Region
    township: Region
    clerk: object
    other_clerk: object
    member: object
    other_member: object
    admin: object
    handler: object
    service: AppointmentService
    category: object

    def finance(self, **extra):
        arguments = dict(
            actor=self.clerk, village=self.village, kind="finance", year=2026, quarter=3, title="2026年第三季度财务公开",
            items=[s.ItemInput(title="土地承包费收入", direction="income", amount="120000.00"),
                   s.ItemInput(title="道路维修支出", direction="expense", amount="35600.50")])
        arguments.update(extra)
        return s.disclosure_create(**arguments)

    def slot(self, *, hours: float = 48, capacity: int = 1) -> Slot:
        start = timezone.now().replace(microsecond=0) + timedelta(hours=hours)
        return Slot.objects.create(service=self.service, start=start, end=start + timedelta(minutes=30),
                                   capacity=capacity)


def _assign(role: Role, region: Region, username: str):
    user = UserFactory(username=username)
    AssignmentFactory(user=user, role=role, region=region)
    return user


@pytest.fixture
def people(db) -> People:
    territory = Territory()
    village, other = territory.villages[0], territory.villages[2]  # villages of two townships
    township = territory.townships[0]
    office = DepartmentFactory(code="svc-centre", name_zh="便民服务中心", name_en="Service Centre",
                               region=township, kind=DepartmentKind.objects.get(code="enforcement"))
    handler = UserFactory(username="handler")
    AssignmentFactory(user=handler, role=Role.HANDLER, department=office)
    service = AppointmentService.objects.create(
        name_zh="户籍证明", name_en="Household registration certificate", department=office, area_code=township.code,
        region=township, documents_zh="身份证、户口簿", documents_en="ID card, household register",
        location="便民服务中心1号窗口", duration_minutes=30)
    category = CategoryFactory(code="1607", name_zh="证明事项咨询", name_en="Questions about certificates",
                               platform=Platform.objects.get(code=Platform.SERVICES))
    admin = UserFactory(username="root")
    admin.is_superuser = admin.is_staff = True
    admin.save()
    return People(
        territory=territory, village=village, other_village=other, township=township,
        clerk=_assign(Role.CLERK, village, "clerk-a"), other_clerk=_assign(Role.CLERK, other, "clerk-b"),
        member=_assign(Role.COMMITTEE_MEMBER, village, "member-a"),
        other_member=_assign(Role.COMMITTEE_MEMBER, other, "member-b"), admin=admin, handler=handler,
        service=service, category=category)


def local(day, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=timezone.get_default_timezone())
