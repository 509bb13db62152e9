"""Two schedulings of one mediator at the same time, at once: exactly one wins (PostgreSQL row locks)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections

from fengqiao.core.errors import Conflict
from fengqiao.mediation import services as s
from fengqiao.mediation.models import MediationSession

# skipped before any fixture runs (a transactional fixture on SQLite has nothing to test here)
ONLY_POSTGRESQL = pytest.mark.skipif(connection.vendor != "postgresql",
                                     reason="row locks and concurrency are exercised on PostgreSQL (CI runs the suite there too)")


@ONLY_POSTGRESQL
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_bookings_of_one_mediator_one_succeeds(world):
    mediator = world.mediators[1]
    numbers = []
    for _ in range(2):
        dispute = world.register()
        s.dispute_assess(actor=world.centre, number=dispute.number, answers={})
        s.dispute_assign(actor=world.centre, number=dispute.number, mediator=mediator)
        numbers.append(dispute.number)
    start = world.clock.now + timedelta(days=1)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def book(number):
        try:
            barrier.wait()
            s.session_schedule(actor=mediator.user, number=number, starts_at=start, ends_at=start + timedelta(hours=1),
                               place="村委会")
            outcomes.append("ok")
        except Conflict as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=book, args=(n,)) for n in numbers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["mediator_double_booked", "ok"]
    assert MediationSession.objects.filter(mediator=mediator).count() == 1
