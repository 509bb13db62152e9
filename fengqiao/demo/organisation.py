"""Departments of the four platforms at township, county and village level, and demo staff."""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db.models import Model

from fengqiao.geo.models import Grid, Region
from fengqiao.org.models import Assignment, Department, DepartmentKind, Platform, Role, StaffProfile

PS, MK, EN, SV = Platform.PUBLIC_SAFETY, Platform.MARKET, Platform.ENFORCEMENT, Platform.SERVICES
TOWNSHIP_DEPARTMENTS = [
    # code suffix, kind, zh, en, platforms
    ("command", "command_centre", "综合信息指挥室", "Command Centre", [PS, MK, EN, SV]),
    ("governance", "governance_office", "综治办", "Comprehensive Governance Office", [PS]),
    ("justice", "justice", "司法所", "Justice Office", [PS]),
    ("police", "police", "枫桥派出所", "Fengqiao Police Station", [PS]),
    ("emergency", "emergency", "应急管理办", "Emergency Management Office", [PS]),
    ("market", "market_supervision", "枫桥市场监管所", "Fengqiao Market Supervision Office", [MK]),
    ("enforcement", "enforcement", "综合行政执法中队", "Comprehensive Enforcement Squad", [EN]),
    ("urban", "urban_management", "城市管理中队", "Urban Management Squad", [EN]),
    ("fire", "fire_safety", "消防安全办", "Fire Safety Office", [PS]),
    ("social", "civil_affairs", "社会事务办", "Social Affairs Office", [SV]),
    ("insurance", "social_security", "社保服务站", "Social Insurance Service Point", [SV]),
    ("services", "services_centre", "便民服务中心", "Service Centre for Residents", [SV]),
    ("agriculture", "agriculture", "农业农村办", "Agriculture and Rural Affairs Office", [SV]),
]
COUNTY_DEPARTMENTS = [
    ("enforcement", "enforcement", "诸暨市综合行政执法局", "Zhuji Comprehensive Enforcement Bureau", [EN]),
    ("market", "market_supervision", "诸暨市市场监管局", "Zhuji Market Supervision Bureau", [MK]),
    ("labour", "labour", "诸暨市人力社保局劳动监察大队", "Zhuji Labour Inspection Brigade", [PS, SV]),
    ("housing", "housing", "诸暨市住房和城乡建设局", "Zhuji Housing and Construction Bureau", [EN]),
    ("resources", "natural_resources", "诸暨市自然资源和规划局", "Zhuji Natural Resources Bureau", [EN]),
    ("environment", "environment", "绍兴市生态环境局诸暨分局", "Zhuji Ecology and Environment Bureau", [EN]),
    ("utilities", "utilities", "诸暨市水务集团", "Zhuji Water Group", [SV]),
    ("transport", "transport", "诸暨市交通运输局", "Zhuji Transport Bureau", [EN, SV]),
    ("civil", "civil_affairs", "诸暨市民政局", "Zhuji Civil Affairs Bureau", [SV]),
    ("water", "water", "诸暨市水利水电局", "Zhuji Water Resources Bureau", [SV]),
    ("health", "health", "诸暨市卫生健康局", "Zhuji Health Bureau", [SV]),
    ("letters", "letters_visits", "诸暨市信访局", "Zhuji Letters and Visits Bureau", [PS]),
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红玲斌海燕波宁晨浩凯鑫婷雪琳"


def _upsert_department(code: str, kind: str, zh: str, en: str, platforms: list[str], region: Region,
                       parent: Department | None = None) -> Department:
    department, _ = Department.objects.update_or_create(
        code=code,
        defaults={"kind": DepartmentKind.objects.get(code=kind), "name_zh": zh, "name_en": en, "region": region,
                  "parent": parent},
    )
    department.platforms.set(Platform.objects.filter(code__in=platforms))
    return department


def build_departments(county: Region, township: Region, villages: list[Region]) -> dict[str, Department]:
    departments: dict[str, Department] = {}
    for suffix, kind, zh, en, platforms in COUNTY_DEPARTMENTS:
        departments[f"zj-{suffix}"] = _upsert_department(f"zj-{suffix}", kind, zh, en, platforms, county)
    for suffix, kind, zh, en, platforms in TOWNSHIP_DEPARTMENTS:
        departments[f"fq-{suffix}"] = _upsert_department(f"fq-{suffix}", kind, zh, en, platforms, township)
    for village in villages:
        code = f"vc-{village.code}"
        departments[code] = _upsert_department(
            code, "village_committee", f"{village.name}村（居）民委员会",
            f"{village.name_en} Committee", [PS, SV], village,
        )
    return departments


@dataclass
class DemoLogin:
    username: str
    role: str
    scope: str


def _person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def staff_account(username: str, password: str, rng: random.Random, *, role: Role, scope: Model,
           department: Department | None = None, title: str = "", superuser: bool = False,
           full_time: bool = True, logins: list[DemoLogin]) -> None:
    User = get_user_model()
    user, created = User.objects.get_or_create(username=username)
    if created:
        user.set_password(password)
        user.is_staff = superuser
        user.is_superuser = superuser
        user.email = f"{username}@demo.fengqiao.invalid"
        user.save()
    StaffProfile.objects.update_or_create(
        user=user,
        defaults={"display_name": _person_name(rng), "department": department, "title": title,
                  "phone": f"1390575{rng.randrange(10_000):04d}"},
    )
    scope_field = {Region: "region", Grid: "grid", Department: "department"}[type(scope)]
    Assignment.objects.get_or_create(user=user, role=role, **{scope_field: scope},
                                     defaults={"full_time": full_time})
    logins.append(DemoLogin(username, Role(role).label, str(scope)))


def build_staff(password: str, county: Region, township: Region, villages: list[Region],
                grids: dict[str, list[Grid]], departments: dict[str, Department]) -> list[DemoLogin]:
    rng = random.Random(11)
    logins: list[DemoLogin] = []
    d = departments
    staff_account("admin", password, rng, role=Role.ADMINISTRATOR, scope=county, superuser=True,
           title="系统管理员", logins=logins)
    staff_account("operator", password, rng, role=Role.OPERATOR, scope=township, department=d["fq-command"],
           title="指挥室值班员", logins=logins)
    staff_account("dispatcher", password, rng, role=Role.DISPATCHER, scope=township, department=d["fq-command"],
           title="派遣员", logins=logins)
    staff_account("leader", password, rng, role=Role.LEADER, scope=township, title="镇党委副书记", logins=logins)
    staff_account("county-leader", password, rng, role=Role.LEADER, scope=county, title="市社会治理中心主任",
           logins=logins)
    for key in ("fq-police", "fq-market", "fq-enforcement", "fq-urban", "fq-services", "fq-justice",
                "fq-emergency", "zj-enforcement", "zj-labour", "zj-utilities"):
        staff_account(f"handler-{key}", password, rng, role=Role.HANDLER, scope=d[key], department=d[key],
               title="承办人", logins=logins)
    staff_account("mediator", password, rng, role=Role.MEDIATOR, scope=township, department=d["fq-justice"],
           title="人民调解员", logins=logins)
    for v, village in enumerate(villages, start=1):
        staff_account(f"chief-{v:02d}", password, rng, role=Role.GRID_CHIEF, scope=village,
               department=d[f"vc-{village.code}"], title="网格长", logins=logins)
        for g, grid in enumerate(grids[village.code], start=1):
            staff_account(f"gw-{v:02d}{g:02d}", password, rng, role=Role.GRID_WORKER, scope=grid,
                   department=d[f"vc-{village.code}"], title="专职网格员" if g % 3 else "兼职网格员",
                   full_time=bool(g % 3), logins=logins)
    staff_account("resident", password, rng, role=Role.RESIDENT, scope=villages[0], logins=logins)
    return logins
