"""Periodic jobs of dispute mediation (listed in MediationConfig.periodic_jobs; idempotent)."""

from __future__ import annotations


def remind_follow_ups() -> int:
    """Reminders of due follow-up visits and of closing judicial-confirmation windows."""
    from fengqiao.mediation.services import remind_due_follow_ups

    return remind_due_follow_ups()


def remind_overdue() -> int:
    """A notice when a dispute's stage deadline passes (once per stage and deadline)."""
    from fengqiao.mediation.services import remind_overdue as run

    return run()
