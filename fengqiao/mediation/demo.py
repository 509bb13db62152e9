"""Demo data of dispute mediation: bodies, mediators, a centre login and a year of disputes.

Mediation bodies: a people's mediation committee per village, the township dispute-resolution
centre (with two rooms), a labour dispute mediation committee (industry body), a lawyers' studio,
a "Lao Niang Jiu" room and the county centre. Eleven mediators with specialties and areas; `mediation-centre` signs in
as the township centre. About 40 disputes registered over the past year, made through the services
at past moments (fengqiao.core.clock.travel) and left in every state: settled ones with signed
agreements, follow-ups and ratings; failed and referred ones; some withdrawn; recent ones open.

Idempotent: bodies and people are upserted; the disputes are made once (a second run finds them).
Each run issues a fresh access code to one party of a dispute whose agreement awaits signatures, and
lists it among the logins, so the party pages can be tried.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone

from fengqiao.core import clock
from fengqiao.core.errors import DomainError
from fengqiao.demo.build import DemoPart
from fengqiao.demo.organisation import DemoLogin, staff_account
from fengqiao.geo.models import Grid, Region
from fengqiao.mediation import services as s
from fengqiao.mediation.models import (
    Dispute,
    DisputeType,
    FollowUp,
    FollowUpState,
    Level,
    MediationOrganisation,
    Mediator,
    OrganisationKind,
    Room,
)
from fengqiao.mediation.notifications import muted
from fengqiao.mediation.selectors import match_mediators
from fengqiao.org.models import Department, Role

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁任沈姚卢"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红玲斌海燕波宁晨浩凯鑫婷雪琳"

# (type code, summary, facts, claims, amount)
STORIES = [
    ("neighbour", "邻里排水沟纠纷", "一方修建排水沟，雨水流入另一方院子，多次争吵。", "改建排水沟，赔偿损失", 2000),
    ("neighbour", "楼上漏水纠纷", "楼上卫生间漏水导致楼下天花板发霉。", "维修防水并赔偿装修损失", 6000),
    ("family", "赡养老人纠纷", "兄弟三人对母亲赡养费分摊意见不一。", "按月分摊赡养费", 1500),
    ("family", "离婚财产分割纠纷", "夫妻协议离婚，对共有房屋分割有争议。", "房屋归一方，另一方获补偿", 200000),
    ("housing_land", "宅基地界址纠纷", "两户建房时对宅基地界址有争议。", "确认界址，拆除越界围墙", None),
    ("contract", "装修合同纠纷", "装修工程延期两个月，质量有瑕疵。", "退还部分工程款", 18000),
    ("business", "合伙经营纠纷", "两人合伙经营袜业作坊，对利润分配有争议。", "分配利润并清算", 50000),
    ("damages", "宠物咬伤纠纷", "邻居家狗咬伤路人。", "赔偿医药费及误工费", 3500),
    ("forest_land", "山林承包纠纷", "山林承包到期后续包价格有争议。", "按原价续包", 30000),
    ("land_acquisition", "征地补偿分配纠纷", "村民对征地补偿款在家庭成员间分配有争议。", "重新分配补偿款", 80000),
    ("environment", "养殖场异味纠纷", "附近养猪场异味影响居民生活。", "整改或搬迁养殖场", None),
    ("wage_arrears", "拖欠工资纠纷", "袜厂拖欠十二名工人三个月工资，春节临近。", "一次性支付拖欠工资", 156000),
    ("labour", "工伤待遇纠纷", "工人在车间受伤，对工伤待遇有争议。", "支付工伤待遇", 42000),
    ("consumer", "电动车质量纠纷", "新购电动车电池一个月内损坏，商家拒绝更换。", "更换电池或退货", 2800),
    ("medical", "医疗费用纠纷", "患者对卫生院收费有异议。", "退还不合理费用", 1200),
    ("traffic", "交通事故赔偿纠纷", "电动车与小轿车相撞，电动车驾驶人受伤。", "赔偿医疗费、误工费", 26000),
    ("property_management", "物业费纠纷", "业主以服务不到位为由拒交物业费。", "改善服务，减免部分物业费", 2400),
    ("other", "红白喜事占道纠纷", "办酒席长时间占用村道，影响通行。", "限期清理，赔礼道歉", None),
]

# the state each of the ~40 disputes ends in (older ones first)
PLAN = (["performed"] * 12 + ["referred"] * 3 + ["withdrawn"] * 2 + ["effective"] * 6 + ["failed"] * 2
        + ["reopened"] + ["agreed"] * 2 + ["in_mediation"] * 4 + ["assigned"] * 3 + ["assessed"] * 2
        + ["registered"] * 3)

MEDIATORS = [
    # username, home (village index, None for the township, "county"), organisation key, specialties, languages
    ("mediator", None, "centre", ["neighbour", "family", "housing_land"], "普通话, 诸暨话"),
    ("mediator-02", None, "centre", ["contract", "business", "consumer", "property_management"], "普通话"),
    ("mediator-03", None, "labour", ["labour", "wage_arrears"], "普通话, 诸暨话"),
    ("mediator-04", None, "lawyers", ["contract", "damages", "traffic", "medical"], "普通话, 英语"),
    ("mediator-05", None, "centre", ["land_acquisition", "forest_land", "environment"], "普通话, 诸暨话"),
    ("mediator-06", 0, "laoniangjiu", ["family", "neighbour"], "诸暨话"),
    ("mediator-07", 1, "village", ["neighbour", "housing_land"], "诸暨话"),
    ("mediator-08", 2, "village", ["family", "neighbour", "forest_land"], "诸暨话"),
    ("mediator-09", 3, "village", ["neighbour", "other"], "诸暨话, 普通话"),
    ("mediator-10", None, "centre", ["traffic", "damages", "medical", "other"], "普通话"),
    ("mediator-county", "county", "county", ["land_acquisition", "environment"], "普通话, 诸暨话"),
]


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def _phone(rng: random.Random) -> str:
    return f"13{rng.randrange(5, 10)}{rng.randrange(10**8):08d}"


def _organisations(township: Region, villages: list[Region]) -> dict[str, MediationOrganisation]:
    types = {t.code: t for t in DisputeType.objects.all()}

    def upsert(code, kind, level, region, zh, en, specialties=()):
        organisation, _ = MediationOrganisation.objects.update_or_create(
            code=code, defaults={"kind": kind, "level": level, "region": region, "name_zh": zh, "name_en": en,
                                 "address": f"{region.name}", "phone": "0575-87000000"})
        organisation.specialties.set([types[c] for c in specialties])
        return organisation

    orgs = {
        "centre": upsert("fq-mediation-centre", OrganisationKind.TOWNSHIP_CENTRE, Level.TOWNSHIP, township,
                         "枫桥镇矛盾纠纷调处化解中心", "Fengqiao Dispute Resolution Centre"),
        "labour": upsert("fq-labour-mediation", OrganisationKind.INDUSTRY, Level.TOWNSHIP, township,
                         "枫桥镇劳动争议调解委员会", "Fengqiao Labour Dispute Mediation Committee",
                         ["labour", "wage_arrears"]),
        "lawyers": upsert("fq-lawyers-studio", OrganisationKind.LAWYERS_STUDIO, Level.TOWNSHIP, township,
                          "枫桥律师调解工作室", "Fengqiao Lawyers' Mediation Studio", ["contract", "damages", "traffic"]),
        "laoniangjiu": upsert(f"ln-{villages[0].code}", OrganisationKind.LAONIANGJIU, Level.VILLAGE, villages[0],
                              f"{villages[0].name}“老娘舅”调解室", f"{villages[0].name_en} Lao Niang Jiu Room",
                              ["family", "neighbour"]),
    }
    county = township.parent
    if county is not None:
        orgs["county"] = upsert(f"cc-{county.code}", OrganisationKind.COUNTY_CENTRE, Level.COUNTY, county,
                                f"{county.name}矛盾纠纷调处化解中心", f"{county.name_en or county.name} Dispute Resolution Centre",
                                ["land_acquisition", "environment", "medical"])
    for village in villages:
        orgs[f"village-{village.code}"] = upsert(
            f"tc-{village.code}", OrganisationKind.VILLAGE_COMMITTEE, Level.VILLAGE, village,
            f"{village.name}人民调解委员会", f"{village.name_en} People's Mediation Committee")
    for name in ("第一调解室", "第二调解室"):
        Room.objects.get_or_create(organisation=orgs["centre"], name=name)
    Room.objects.get_or_create(organisation=orgs["laoniangjiu"], name="老娘舅调解室")
    return orgs


def build(*, township: Region, villages: list[Region], password: str) -> DemoPart:
    rng = random.Random(29)  # noqa: S311 - demo data, not secrets
    logins: list[DemoLogin] = []
    justice = Department.objects.filter(code="fq-justice").first()
    staff_account("mediation-centre", password, rng, role=Role.MEDIATION_CENTRE, scope=township, department=justice,
                  title="矛调中心工作人员", logins=logins)
    centre = get_user_model().objects.get(username="mediation-centre")
    orgs = _organisations(township, villages)
    county_centre = centre
    if township.parent is not None:
        staff_account("county-mediation-centre", password, rng, role=Role.MEDIATION_CENTRE, scope=township.parent,
                      title="县矛调中心工作人员", logins=logins)
        county_centre = get_user_model().objects.get(username="county-mediation-centre")
    types = {t.code: t for t in DisputeType.objects.all()}
    User = get_user_model()
    for username, home, org_key, specialties, languages in MEDIATORS:
        if home == "county":
            if "county" not in orgs:
                continue
            region = orgs["county"].region
        else:
            region = villages[home] if isinstance(home, int) and home < len(villages) else township
        organisation = orgs.get(f"village-{region.code}", orgs["centre"]) if org_key == "village" else orgs[org_key]
        if username != "mediator" or not User.objects.filter(username=username).exists():
            staff_account(username, password, rng, role=Role.MEDIATOR, scope=region, department=justice,
                          title="人民调解员", logins=logins)
        user = User.objects.get(username=username)
        s.mediator_save(actor=county_centre if home == "county" else centre, user=user, organisation=organisation, region=region,
                        specialties=[types[c] for c in specialties], languages=languages,
                        capacity=6 if organisation.level == Level.VILLAGE else 10)

    made = Dispute.objects.filter(created_by=centre).exists()
    if not made:
        _history(township=township, villages=villages, centre=centre, rng=random.Random(31))  # noqa: S311
    logins += _party_login(centre)
    disputes = Dispute.objects.filter(area_code__startswith=township.code)
    return DemoPart(counts={"disputes": disputes.count(), "mediators": Mediator.objects.count(),
                            "mediation bodies": MediationOrganisation.objects.filter(
                                region__code__startswith=township.code).count()},
                    logins=logins)


def _party_login(centre) -> list[DemoLogin]:
    dispute = Dispute.objects.filter(created_by=centre, state="agreed").order_by("created_at").first()
    if dispute is None:
        return []
    party = dispute.parties.filter(role="applicant").exclude(phone_index="").first()
    if party is None:
        return []
    code = s.party_issue_access_code(actor=centre, number=dispute.number, party_id=party.pk)
    return [DemoLogin(f"{code} + {party.phone[-4:]}", "party (resident portal, access code + phone's last 4 digits)",
                      dispute.number)]


class _Later(Exception):
    """The next step would lie in the future: the dispute stays where it is."""


def _history(*, township: Region, villages: list[Region], centre, rng: random.Random) -> None:
    real_now = timezone.now()
    grids = list(Grid.objects.filter(region__in=villages).order_by("code"))
    stories = list(STORIES)
    with muted():
        for i, plan in enumerate(PLAN):
            days_ago = 360 - i * 8.5
            start = timezone.localtime(real_now - timedelta(days=days_ago)).replace(
                hour=9, minute=rng.randrange(0, 50), second=0, microsecond=0)
            if start.weekday() >= 5:
                start += timedelta(days=7 - start.weekday())
            story = stories[i % len(stories)]
            try:
                _one(plan=plan, start=start, real_now=real_now, story=story, grid=rng.choice(grids), centre=centre,
                     rng=rng)
            except _Later:
                continue


def _one(*, plan: str, start: datetime, real_now: datetime, story, grid: Grid, centre, rng: random.Random) -> None:
    type_code, title, facts, claims, amount = story

    def at(moment: datetime):
        if moment >= real_now:
            raise _Later
        return clock.travel(moment)

    phones = [_phone(rng), _phone(rng)]
    parties = [s.PartyIn(role="applicant", name=_name(rng), phone=phones[0], address=f"{grid.region.name}{rng.randrange(1, 99)}号"),
               s.PartyIn(role="respondent", name=_name(rng), phone=phones[1],
                         address=f"{grid.region.name}{rng.randrange(1, 99)}号")]
    if type_code in ("wage_arrears", "labour", "consumer", "property_management"):
        parties[1] = s.PartyIn(role="respondent", kind="organisation", name=f"诸暨{rng.choice('华永兴达')}袜业有限公司",
                               phone=phones[1], id_number=f"91330681MA2{rng.randrange(10**7):07d}")
    with at(start):
        dispute = s.dispute_register(actor=centre, type=DisputeType.objects.get(code=type_code), title=title,
                                     facts=facts, claims=claims, amount=amount, grid=grid, parties=parties,
                                     intake_mode=rng.choice(["application", "application", "grid_worker", "police",
                                                             "hotline"]),
                                     referred_by="枫桥派出所")
    codes = dispute.issued_codes  # type: ignore[attr-defined]
    number = dispute.number
    creds = {p.role: s.PartyCredentials(code=codes[p.pk], phone_last4=p.phone[-4:]) for p in dispute.parties.all()}
    if plan == "registered":
        return
    if plan == "withdrawn":
        with at(start + timedelta(days=2)):
            s.dispute_withdraw(actor=centre, number=number, reason="申请人撤回调解申请")
        return
    answers = {"people_involved": 12 if type_code == "wage_arrears" else 2,
               "deadline_pressure": type_code == "wage_arrears", "vulnerable": type_code == "family",
               "large_amount": bool(amount and amount >= 100000)}
    with at(start + timedelta(hours=2)):
        s.dispute_assess(actor=centre, number=number, answers=answers)
    if plan == "assessed":
        return
    if plan == "referred" and rng.random() < 0.5:
        with at(start + timedelta(days=1)):
            s.dispute_refer(actor=centre, number=number, route="litigation", body="诸暨市人民法院",
                            reason="当事人不同意调解，告知诉讼途径")
        return
    with at(start + timedelta(days=1)):
        proposals = match_mediators(actor=centre, number=number)
        if not proposals.result.proposals:
            raise _Later
        mediator = proposals.mediators[proposals.result.proposals[0].candidate.id]
        if type_code == "land_acquisition":  # large collective disputes go to the county centre
            county_mediator = Mediator.objects.filter(organisation__level=Level.COUNTY).first()
            mediator = county_mediator or mediator
        s.dispute_assign(actor=centre, number=number, mediator=mediator)
    if plan == "assigned":
        return
    user = mediator.user
    session_start = (start + timedelta(days=3)).replace(hour=9 + rng.randrange(0, 7), minute=0)
    rooms = list(Room.objects.filter(organisation=mediator.organisation))
    with at(start + timedelta(days=1, hours=1)):
        try:
            session = s.session_schedule(actor=user, number=number, starts_at=session_start,
                                         ends_at=session_start + timedelta(hours=1, minutes=30),
                                         room=rooms[0] if rooms else None,
                                         place="" if rooms else f"{grid.region.name}村委会")
        except DomainError:
            session = s.session_schedule(actor=user, number=number, starts_at=session_start + timedelta(days=1),
                                         ends_at=session_start + timedelta(days=1, hours=1, minutes=30),
                                         place=f"{grid.region.name}村委会")
    after = session.ends_at + timedelta(minutes=10)
    with at(after):
        ids = list(Dispute.objects.get(number=number).parties.values_list("pk", flat=True))
        s.session_record(actor=user, session_id=session.pk, attendance={pk: True for pk in ids},
                         minutes="双方陈述事实和诉求，调解员释法说理，" + ("双方达成一致。" if plan not in (
                             "in_mediation", "failed", "referred") else "双方分歧较大。"))
    if plan == "in_mediation":
        return
    if plan in ("failed", "referred"):
        with at(after + timedelta(days=2)):
            s.dispute_fail(actor=user, number=number, reason="双方对赔偿数额分歧过大，调解不成")
        if plan == "referred":
            with at(after + timedelta(days=3)):
                s.dispute_refer(actor=centre, number=number, route=rng.choice(["arbitration", "litigation"]),
                                body="诸暨市劳动人事争议仲裁委员会" if type_code in ("labour", "wage_arrears")
                                else "诸暨市人民法院", reason="调解不成，引导当事人依法解决")
            with at(after + timedelta(days=4)):
                s.party_rate(credentials=creds["applicant"], rating=rng.choice([3, 4, 4, 5]))
        return
    deadline = timezone.localdate(after) + timedelta(days=10)
    with at(after + timedelta(minutes=20)):
        agreement = s.agreement_draft(actor=user, number=number, content=s.AgreementContent(
            facts=facts, points_in_dispute=claims, responsibilities="双方均有一定责任，被申请人承担主要责任。",
            obligations=f"被申请人于{deadline:%Y年%m月%d日}前{claims}" + (f"，金额{amount}元。" if amount else "。"),
            performance_manner="当面履行，由调解组织见证。", performance_deadline=deadline))
    if plan == "agreed":
        with at(after + timedelta(minutes=40)):
            s.agreement_sign(signer=creds["applicant"], agreement=agreement, shown_hash=agreement.pdf_hash,
                             signature_text="申请人")
        return
    with at(after + timedelta(minutes=30)):
        for role in ("applicant", "respondent"):
            s.agreement_sign(signer=creds[role], agreement=agreement, shown_hash=agreement.pdf_hash,
                             signature_text=role)
        s.agreement_sign(signer=user, agreement=agreement, shown_hash=agreement.pdf_hash,
                         signature_text=mediator.display_name)
    follow_up = FollowUp.objects.filter(dispute__number=number, state=FollowUpState.SCHEDULED).first()
    if plan == "effective" or follow_up is None:
        return
    with at(follow_up.due_at + timedelta(hours=2)):
        if plan == "reopened":
            s.follow_up_record(actor=user, follow_up_id=follow_up.pk, result="not_performed", note="被申请人未按期履行")
            s.dispute_reopen(actor=centre, number=number, reason="协议未履行，重新组织调解")
            return
        s.follow_up_record(actor=user, follow_up_id=follow_up.pk, result="performed", note="已按协议履行")
    with at(follow_up.due_at + timedelta(days=1)):
        for role in ("applicant", "respondent"):
            if rng.random() < 0.8:
                s.party_rate(credentials=creds[role], rating=rng.choices([5, 4, 3, 2], weights=[60, 28, 8, 4])[0])
