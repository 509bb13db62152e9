# ruff: noqa: F811  (the mediation fixtures are imported from tests/mediation/conftest.py and requested by name)
"""Fixtures for the mediation pages: the township, centres and mediators of tests/mediation."""

from __future__ import annotations

from datetime import date

import pytest

from fengqiao.mediation import services as s
from tests.mediation.conftest import World, clock, world  # noqa: F401
from tests.web.conftest import english_pages, signed_in  # noqa: F401


@pytest.fixture(autouse=True)
def _english_pages(english_pages):
    """The mediation pages in English, as the staff pages' tests read them."""


def content(**overrides) -> s.AgreementContent:
    values = dict(facts="张家修排水沟致雨水流入李家院子。", points_in_dispute="排水沟走向及损失赔偿。",
                  responsibilities="张大山承担主要责任。", obligations="张大山改建排水沟并赔偿李小明1500元。",
                  performance_manner="现金支付，村委会见证。", performance_deadline=date(2026, 4, 1))
    values.update(overrides)
    return s.AgreementContent(**values)


def assigned(world: World, mediator_index: int = 1):
    """A dispute registered, assessed and assigned to world.mediators[mediator_index]."""
    dispute = world.register()
    s.dispute_assess(actor=world.centre, number=dispute.number, answers={})
    s.dispute_assign(actor=world.centre, number=dispute.number, mediator=world.mediators[mediator_index])
    dispute.refresh_from_db()
    return dispute
