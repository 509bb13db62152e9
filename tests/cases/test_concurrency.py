"""Two actions on the same version at once: exactly one wins (PostgreSQL row locks)."""

import threading

import pytest
from django.db import connection, connections

from fengqiao.cases import services as s
from fengqiao.core.errors import Conflict

# skipped before any fixture runs (a transactional fixture on SQLite has nothing to test here)
ONLY_POSTGRESQL = pytest.mark.skipif(connection.vendor != "postgresql",
                                     reason="row locks and concurrency are exercised on PostgreSQL (CI runs the suite there too)")


@ONLY_POSTGRESQL
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_concurrent_actions_on_one_version_one_succeeds(loop):
    case = loop.report()
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def act(service, **kwargs):
        try:
            barrier.wait()
            service(number=case.number, expected_version=case.version, **kwargs)
            outcomes.append("ok")
        except Conflict:
            outcomes.append("conflict")
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=act, args=(s.case_accept,), kwargs={"actor": loop.operator}),
        threading.Thread(target=act, args=(s.case_reject,), kwargs={"actor": loop.operator, "reason": "重复"}),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    case.refresh_from_db()
    assert case.version == 2 and case.last_event_seq == 2


@ONLY_POSTGRESQL
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_retries_of_one_create_make_one_case(loop):
    from fengqiao.cases.models import Case

    barrier = threading.Barrier(3)
    numbers: list[str] = []

    def create():
        try:
            barrier.wait()
            numbers.append(loop.report(idempotency_key="same-key").number)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=create) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(numbers) == 3, "every retry gets an answer"
    assert len(set(numbers)) == 1 and Case.objects.count() == 1
