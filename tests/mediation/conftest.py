"""A township with a dispute-resolution centre, a village committee, mediators and a helper to
register disputes, for the mediation tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from fengqiao.mediation.models import DisputeType, Level, MediationOrganisation, OrganisationKind, Room
from fengqiao.mediation.services import PartyCredentials, PartyIn, dispute_register, mediator_save
from fengqiao.org.models import Role
from tests.factories import AssignmentFactory, UserFactory

TZ = ZoneInfo("Asia/Shanghai")

APPLICANT_PHONE = "13800001111"
RESPONDENT_PHONE = "13900002222"


class Clock:
    """Moves the platform's clock (fengqiao.core.clock.now) in tests."""

    def __init__(self, monkeypatch, start: datetime):
        self.now = start
        monkeypatch.setattr("fengqiao.core.clock.now", lambda: self.now)

    def set(self, *args) -> datetime:
        self.now = datetime(*args, tzinfo=TZ)
        return self.now

    def advance(self, **kwargs) -> datetime:
        self.now = self.now + timedelta(**kwargs)
        return self.now


@dataclass
class World:
    territory: object
    township: object
    village: object
    grid: object
    centre_org: MediationOrganisation
    village_org: MediationOrganisation
    room: Room
    centre: object  # MEDIATION_CENTRE staff of the township
    other_centre: object  # MEDIATION_CENTRE staff of the other township
    mediators: list  # Mediator profiles
    clock: Clock
    codes: dict = field(default_factory=dict)  # dispute number -> {party id: access code}

    def type(self, code: str = "neighbour") -> DisputeType:
        return DisputeType.objects.get(code=code)

    def register(self, **kwargs):
        defaults = dict(
            actor=self.centre, type=self.type(), title="邻里排水沟纠纷", facts="张家修排水沟，雨水流入李家院子。",
            claims="改建排水沟，赔偿损失2000元", amount="2000", grid=self.grid,
            parties=[PartyIn(role="applicant", name="李小明", phone=APPLICANT_PHONE, id_number="330681199001011234",
                             address="枫桥镇村一12号"),
                     PartyIn(role="respondent", name="张大山", phone=RESPONDENT_PHONE, address="枫桥镇村一14号")],
        )
        defaults.update(kwargs)
        dispute = dispute_register(**defaults)
        if getattr(dispute, "issued_codes", None):
            self.codes[dispute.number] = dispute.issued_codes
        return dispute

    def credentials(self, dispute, role: str = "applicant") -> PartyCredentials:
        party = dispute.parties.get(role=role)
        phone = APPLICANT_PHONE if role == "applicant" else RESPONDENT_PHONE
        return PartyCredentials(code=self.codes[dispute.number][party.pk], phone_last4=phone[-4:])


def make_mediator(*, username: str, scope, organisation, region, specialties=(), capacity=5, phone="",
                  languages="普通话", actor):
    user = UserFactory(username=username)
    AssignmentFactory(user=user, role=Role.MEDIATOR, region=scope)
    return mediator_save(actor=actor, user=user, organisation=organisation, region=region, display_name=username,
                         specialties=[DisputeType.objects.get(code=c) for c in specialties], capacity=capacity,
                         phone=phone, languages=languages)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, datetime(2026, 3, 2, 9, 0, tzinfo=TZ))  # a Monday


@pytest.fixture
def world(territory, clock) -> World:
    township, other = territory.townships
    village = territory.villages[0]
    grid = territory.grids[0]
    centre = UserFactory(username="centre")
    AssignmentFactory(user=centre, role=Role.MEDIATION_CENTRE, region=township)
    other_centre = UserFactory(username="other-centre")
    AssignmentFactory(user=other_centre, role=Role.MEDIATION_CENTRE, region=other)
    centre_org = MediationOrganisation.objects.create(code="centre", name_zh="镇矛调中心", name_en="Township centre",
                                                      kind=OrganisationKind.TOWNSHIP_CENTRE, level=Level.TOWNSHIP,
                                                      region=township)
    village_org = MediationOrganisation.objects.create(code="vc", name_zh="村调委会", name_en="Village committee",
                                                       kind=OrganisationKind.VILLAGE_COMMITTEE, level=Level.VILLAGE,
                                                       region=village)
    room = Room.objects.create(organisation=centre_org, name="第一调解室")
    mediators = [
        make_mediator(username="m-neighbour-village", scope=village, organisation=village_org, region=village,
                      specialties=["neighbour"], actor=centre),
        make_mediator(username="m-neighbour-town", scope=township, organisation=centre_org, region=township,
                      specialties=["neighbour", "family"], actor=centre),
        make_mediator(username="m-labour", scope=township, organisation=centre_org, region=township,
                      specialties=["labour"], actor=centre),
        make_mediator(username="m-general", scope=township, organisation=centre_org, region=township,
                      specialties=[], actor=centre),
    ]
    return World(territory=territory, township=township, village=village, grid=grid, centre_org=centre_org,
                 village_org=village_org, room=room, centre=centre, other_centre=other_centre, mediators=mediators,
                 clock=clock)
