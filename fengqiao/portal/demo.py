"""Demo data of the portal: a resident account with a few requests through the portal (idempotent)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from fengqiao.cases.models import Category, Channel, RequestType
from fengqiao.cases.services import case_report
from fengqiao.core import clock
from fengqiao.demo.build import DemoPart
from fengqiao.demo.organisation import DemoLogin
from fengqiao.geo.models import Grid
from fengqiao.portal.models import ResidentProfile

USERNAME = "resident-web@demo.fengqiao.invalid"
REQUESTS = [
    ("demo-portal-1", RequestType.REPORT, "村口路灯不亮已经三天，晚上走路看不清。"),
    ("demo-portal-2", RequestType.CONSULT, "请问老年人高龄补贴怎么申请，需要带哪些材料？"),
    ("demo-portal-3", RequestType.SUGGESTION, "建议在文化礼堂门口增设几个自行车停放架。"),
]


@transaction.atomic
def build(*, township: Any, villages: list[Any], password: str) -> DemoPart:
    User = get_user_model()
    user, created = User.objects.get_or_create(username=USERNAME, defaults={"email": USERNAME})
    if created:
        user.set_password(password)
        user.save()
    ResidentProfile.objects.get_or_create(user=user, defaults={"created_at": clock.now(), "email_on_changes": True})
    grid = Grid.objects.filter(region__in=villages, parent__isnull=True).order_by("code").first()
    categories = list(Category.objects.filter(is_active=True, children__isnull=True).order_by("code")[:3])
    made = 0
    if grid is not None and categories:
        lon, lat = (grid.min_lon + grid.max_lon) / 2, (grid.min_lat + grid.max_lat) / 2
        for (key, request_type, text), category in zip(REQUESTS, categories * 3, strict=False):
            case_report(actor=user, channel=Channel.RESIDENT, category=category, description=text, lon=lon, lat=lat,
                        request_type=request_type, idempotency_key=key)
            made += 1
    return DemoPart(counts={"resident accounts": 1, "portal requests": made},
                    logins=[DemoLogin(username=USERNAME, role="resident (portal account)", scope="/portal/")])
