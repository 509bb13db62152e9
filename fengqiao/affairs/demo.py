"""Demo data of village affairs (run by `fengqiao demo`, idempotent): a clerk and a supervision
committee member per village and a township clerk; notices and village news; per village a finance
disclosure of the last quarter, reviewed and published, and one more awaiting review; appointment
services at the township's service centre with slots for the next two weeks."""

from __future__ import annotations

import random
from datetime import time
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from fengqiao.affairs import services
from fengqiao.affairs.models import AppointmentService, Disclosure, DisclosureKind, Notice, WeeklySlot
from fengqiao.core import clock
from fengqiao.demo.build import DemoPart
from fengqiao.demo.organisation import DemoLogin, staff_account
from fengqiao.geo.models import Region
from fengqiao.org.models import Department, Role

SERVICES = [
    # name_zh, name_en, documents_zh, documents_en, minutes
    ("户籍证明", "Household registration certificate", "身份证、户口簿", "ID card, household register", 20),
    ("社保咨询", "Social insurance advice", "身份证、社保卡", "ID card, social security card", 30),
    ("调解咨询", "Mediation advice", "身份证，相关材料（合同、照片等）", "ID card, related papers (contracts, photos …)", 45),
    ("老年优待证", "Senior citizen card", "身份证、一寸照片一张", "ID card, one passport photo", 20),
]
TIMES = [time(9, 0), time(9, 30), time(10, 0), time(10, 30), time(14, 0), time(14, 30), time(15, 0), time(15, 30)]
FINANCE_ITEMS = [
    ("income", "土地承包费收入", (60_000, 180_000), "村集体土地发包，按合同收取"),
    ("income", "上级补助", (20_000, 80_000), "镇财政转移支付"),
    ("income", "村集体物业租金", (10_000, 40_000), ""),
    ("expense", "道路维修支出", (15_000, 60_000), "村道修补及排水沟清理"),
    ("expense", "保洁费用", (8_000, 20_000), "全村环境卫生保洁，按月支付"),
    ("expense", "村干部误工补贴", (10_000, 30_000), ""),
    ("expense", "路灯电费", (2_000, 6_000), ""),
]
NOTICES = [
    ("notice", "关于做好秋冬季森林防火工作的通知", "进入秋冬季，天干物燥。请村民不要在山林周边焚烧秸秆、垃圾，上坟祭扫文明用火。\n\n发现火情请立即拨打119并报告村委会。", True),
    ("notice", "城乡居民医疗保险开始缴费", "下一年度城乡居民基本医疗保险集中缴费已经开始，可在便民服务中心或手机上缴纳。\n\n有疑问可预约“社保咨询”。", False),
    ("news", "枫桥镇召开“三治融合”工作推进会", "镇里召开推进会，交流各村自治、法治、德治的做法，推广“村民说事”制度。", False),
]
VILLAGE_NEWS = ("news", "{village}完成村道修补", "{village}利用上级补助和集体收入，完成了村内主干道的修补和排水沟清理，方便村民出行。")


def _last_quarter(today):
    quarter = (today.month - 1) // 3
    return (today.year, quarter) if quarter else (today.year - 1, 4)


def _finance_items(rng: random.Random) -> list[services.ItemInput]:
    return [services.ItemInput(title=title, direction=direction, note=note,
                               amount=Decimal(rng.randrange(*span)) + Decimal(rng.randrange(100)) / 100)
            for direction, title, span, note in FINANCE_ITEMS]


def build(*, township: Region, villages: list[Region], password: str) -> DemoPart:
    rng = random.Random(23)  # noqa: S311 - demo figures, not secrets
    logins: list[DemoLogin] = []
    User = get_user_model()
    staff_account("clerk-fq", password, rng, role=Role.CLERK, scope=township, title="党政办文书", logins=logins)
    clerks, members = {}, {}
    for v, village in enumerate(villages, start=1):
        staff_account(f"clerk-{v:02d}", password, rng, role=Role.CLERK, scope=village, title="村文书",
                      logins=logins)
        staff_account(f"committee-{v:02d}", password, rng, role=Role.COMMITTEE_MEMBER, scope=village,
                      title="村务监督委员会主任", logins=logins)
        clerks[village.code] = User.objects.get(username=f"clerk-{v:02d}")
        members[village.code] = User.objects.get(username=f"committee-{v:02d}")
    township_clerk = User.objects.get(username="clerk-fq")

    # notices and village news
    for kind, title, body, pinned in NOTICES:
        if not Notice.objects.filter(area_code=township.code, title=title).exists():
            notice = services.notice_create(actor=township_clerk, kind=kind, region=township, title=title, body=body,
                                            pinned=pinned)
            services.notice_publish(actor=township_clerk, notice_id=notice.pk)
    for village in villages[:5]:
        kind, title, body = VILLAGE_NEWS
        title = title.format(village=village.name)
        if not Notice.objects.filter(area_code=village.code, title=title).exists():
            notice = services.notice_create(actor=clerks[village.code], kind=kind, region=village, title=title,
                                            body=body.format(village=village.name))
            services.notice_publish(actor=clerks[village.code], notice_id=notice.pk)

    # disclosures: the last quarter's finances, published; the first village's project spending awaiting review
    year, quarter = _last_quarter(timezone.localdate(clock.now()))
    for village in villages:
        clerk, member = clerks[village.code], members[village.code]
        title = f"{village.name}{year}年第{quarter}季度财务收支公开"
        if not Disclosure.objects.filter(area_code=village.code, year=year, quarter=quarter,
                                         kind=DisclosureKind.FINANCE).exists():
            d = services.disclosure_create(actor=clerk, village=village, kind=DisclosureKind.FINANCE, year=year,
                                           quarter=quarter, title=title, items=_finance_items(rng),
                                           summary="本季度村集体财务收支情况如下，欢迎村民监督。")
            services.disclosure_submit(actor=clerk, disclosure_id=d.pk)
            services.disclosure_review(actor=member, disclosure_id=d.pk, approve=True)
            services.disclosure_publish(actor=clerk, disclosure_id=d.pk)
    first = villages[0]
    if not Disclosure.objects.filter(area_code=first.code, kind=DisclosureKind.PROJECT, year=year,
                                     quarter=quarter).exists():
        d = services.disclosure_create(
            actor=clerks[first.code], village=first, kind=DisclosureKind.PROJECT, year=year, quarter=quarter,
            title=f"{first.name}文化礼堂改造项目支出", summary="经村民代表会议通过，对文化礼堂进行改造。",
            items=[services.ItemInput(title="礼堂屋顶翻修", direction="expense", amount="86500.00",
                                      note="公开招标，中标单位：诸暨某建筑公司"),
                   services.ItemInput(title="座椅更换", direction="expense", amount="23800.00")])
        services.disclosure_submit(actor=clerks[first.code], disclosure_id=d.pk)

    # appointments at the township's service centre
    centre = Department.objects.filter(code="fq-services").first()
    made_slots = 0
    if centre is not None:
        for zh, en, docs_zh, docs_en, minutes in SERVICES:
            service, _created = AppointmentService.objects.update_or_create(
                department=centre, name_zh=zh,
                defaults={"name_en": en, "area_code": centre.region.code, "region": centre.region,
                          "documents_zh": docs_zh, "documents_en": docs_en, "duration_minutes": minutes,
                          "location": "枫桥镇便民服务中心", "description_zh": f"{zh}，请按预约时间到便民服务中心办理。",
                          "description_en": f"{en}: come to the service centre at the time booked."})
            for weekday in range(5):
                for start in TIMES:
                    WeeklySlot.objects.get_or_create(service=service, weekday=weekday, start=start,
                                                     defaults={"capacity": 2})
            made_slots += services.slots_generate(service=service, days=14)
    return DemoPart(
        counts={"notices": Notice.objects.filter(area_code__startswith=township.code).count(),
                "disclosures": Disclosure.objects.filter(area_code__startswith=township.code).count(),
                "appointment services": AppointmentService.objects.filter(area_code__startswith=township.code).count()},
        logins=logins)
