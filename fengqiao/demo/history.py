"""A year of past cases for the demo township, made through the services at past moments.

About 2,000 cases over the last twelve months in every state: most older ones closed and rated,
recent ones spread over the loop, some rejected, merged, suspended and parked, some late. Times,
categories, channels and ratings are drawn from fixed seeds, so the history is the same every run.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from fengqiao.cases import services as s
from fengqiao.cases.models import Case, Category, Channel, Urgency
from fengqiao.cases.notifications import muted
from fengqiao.core import clock
from fengqiao.core.errors import DomainError
from fengqiao.geo.geometry import to_shape
from fengqiao.geo.models import Grid, Region
from fengqiao.org.models import Assignment, Role

DESCRIPTIONS = {
    "01": ["路边垃圾堆放多日未清运", "河道漂浮垃圾较多", "有人在空地焚烧树叶，烟很大", "餐馆油烟直排扰民"],
    "02": ["电线杆上贴满小广告", "沿街违规设置广告牌", "横幅破损悬挂危险"],
    "03": ["夜间施工噪声扰民", "工地扬尘严重未覆盖", "渣土车沿路遗撒"],
    "04": ["路面塌陷有坑", "村道积水严重", "桥栏杆松动"],
    "05": ["井盖缺失，行人有危险", "路灯不亮已有一周", "消火栓漏水", "公交站棚破损"],
}
FALLBACK = ["群众反映问题，请尽快处理", "网格巡查发现隐患", "居民来电反映情况"]
CHANNELS = [(Channel.GRID_WORKER, 45), (Channel.HOTLINE, 25), (Channel.RESIDENT, 20), (Channel.API, 5),
            (Channel.SENSOR, 5)]
RATINGS = [(5, 60), (4, 25), (3, 8), (2, 4), (1, 3)]


def _pick(rng: random.Random, weighted):
    return rng.choices([v for v, _w in weighted], weights=[w for _v, w in weighted])[0]


def _office_moment(rng: random.Random, day: datetime) -> datetime:
    hour = rng.choices(range(7, 22), weights=[2, 8, 10, 10, 8, 4, 6, 9, 9, 8, 5, 3, 2, 2, 1])[0]
    return day.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60), microsecond=0)


class _Stop(Exception):
    """The case's next step would lie in the future: it stays where it is."""


def _at(t: datetime) -> clock.travel:
    if t >= _Now.real:
        raise _Stop
    return clock.travel(t)


class _Now:
    real: datetime


class _Actors:
    def __init__(self, township: Region):
        User = get_user_model()
        self.operator = User.objects.get(username="operator")
        self.leader = User.objects.get(username="leader")
        self.admin = User.objects.get(username="admin")
        self.handlers = {a.department_id: a.user for a in Assignment.objects.filter(
            role=Role.HANDLER, department__isnull=False).select_related("user")}
        self.grid_workers = {a.grid_id: a.user for a in Assignment.objects.filter(
            role=Role.GRID_WORKER, grid__isnull=False).select_related("user")}

    def handler(self, case: Case):
        return self.handlers.get(case.lead_department_id, self.admin)

    def verifier(self, case: Case):
        return self.grid_workers.get(case.grid_id, self.operator)


def build_history(*, township: Region, count: int = 2000, seed: int = 2026) -> int:
    """Make `count` past cases unless the township has cases already; returns how many were made."""
    if Case.objects.filter(area_code__startswith=township.code).exists():
        return 0
    rng = random.Random(seed)
    actors = _Actors(township)
    grids = list(Grid.objects.filter(code__startswith=township.code).select_related("region"))
    leaves = list(Category.objects.filter(is_active=True, children__isnull=True).select_related("parent"))
    _Now.real = clock.now()
    today = timezone.localtime(_Now.real).replace(hour=0, minute=0, second=0, microsecond=0)
    made = 0
    with muted():
        for i in range(count):
            age_days = int(365 * (rng.random() ** 1.3))  # more recent cases than old ones
            started = _office_moment(rng, today - timedelta(days=age_days))
            if started >= _Now.real:
                started -= timedelta(days=1)
            try:
                _one_case(rng, actors, rng.choice(grids), rng.choice(leaves), started, age_days, i)
                made += 1
            except _Stop:
                made += 1
            except DomainError:
                continue  # an unlucky draw (e.g. no department for a category): skip it
        s.sweep_deadlines(limit=count)  # mark what is late today, without notifying anyone
    return made


def _one_case(rng, actors: _Actors, grid: Grid, category: Category, t: datetime, age_days: int, i: int) -> None:
    shape = to_shape(grid.geometry)
    point = shape.representative_point()
    lon, lat = point.x + rng.uniform(-0.0005, 0.0005), point.y + rng.uniform(-0.0005, 0.0005)
    if not shape.contains(type(point)(lon, lat)):
        lon, lat = point.x, point.y
    channel = _pick(rng, CHANNELS)
    reporter = {Channel.GRID_WORKER: actors.grid_workers.get(grid.pk), Channel.HOTLINE: actors.operator,
                Channel.API: actors.operator}.get(channel)
    description = rng.choice(DESCRIPTIONS.get(category.code[:2], FALLBACK))
    urgency = _pick(rng, [(Urgency.NORMAL, 85), (Urgency.URGENT, 12), (Urgency.CRITICAL, 3)])
    step = lambda hours: t + timedelta(hours=hours)  # noqa: E731

    with _at(t):
        case = s.case_report(actor=reporter, channel=channel, category=category, description=description,
                             lon=lon, lat=lat, urgency=urgency, anonymous=channel == Channel.RESIDENT and i % 3 == 0,
                             reporter_name="" if reporter else "居民", is_public=i % 7 != 0)
    number = case.number
    recent = age_days < 20
    fate = rng.random()
    if recent and fate < 0.08:
        return  # still waiting for intake
    t = step(rng.uniform(0.1, 1.5))
    with _at(t):
        if fate < 0.05 or (recent and fate < 0.12):
            s.case_reject(actor=actors.operator, number=number, reason="不属于受理范围，已告知反映人")
            return
        s.case_accept(actor=actors.operator, number=number)
    if recent and fate < 0.16:
        return
    t = step(rng.uniform(0.1, 1.0))
    with _at(t):
        case = s.case_dispatch(actor=actors.operator, number=number)
    handler = actors.handler(case)
    if recent and fate < 0.24:
        return
    t = step(rng.uniform(0.5, 6))
    with _at(t):
        s.case_start(actor=handler, number=number)
    if fate > 0.985:
        with _at(step(2)):
            s.case_park(actor=actors.leader, number=number, reason="需纳入年度项目统筹解决")
        return
    if fate > 0.975:
        with _at(step(2)):
            s.case_suspend(actor=actors.leader, number=number, reason="等待相关方补充材料")
        return
    if recent and fate < 0.34:
        return  # in progress (some will be late)
    due = case.due_at or step(24)
    late = rng.random() < 0.15
    t = due + timedelta(hours=rng.uniform(2, 48)) if late else t + (due - t) * rng.uniform(0.2, 0.9)
    with _at(t):
        s.case_report_back(actor=handler, number=number, result="已现场处置完毕")
    if recent and fate < 0.42:
        return
    t = t + timedelta(hours=rng.uniform(1, 20))
    with _at(t):
        passed = rng.random() > 0.07
        s.case_verify(actor=actors.verifier(case), number=number, passed=passed,
                      note="" if passed else "现场核查仍未整改到位")
        if not passed:
            return
    if rng.random() < 0.25:
        return  # closed, not rated
    with _at(t + timedelta(days=rng.uniform(0.5, 3))):
        s.case_rate(actor=actors.operator, number=number, rating=_pick(rng, RATINGS), comment="电话回访")

