"""Demo data of dispute mediation (built through the services). Being written."""

from __future__ import annotations

from fengqiao.demo.build import DemoPart


def build(*, township, villages, password) -> DemoPart:
    return DemoPart(counts={}, logins=[])
