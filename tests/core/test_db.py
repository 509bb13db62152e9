"""core.db: many rows written with values prepared once (COPY and one UPDATE from arrays on
PostgreSQL, batched statements on SQLite) read back exactly as the ORM would have written them."""

from datetime import timedelta

import pytest
from django.db import connection, transaction

from fengqiao.core import clock
from fengqiao.core.db import insert_rows, row_values, update_rows
from fengqiao.notify.models import Channel, Message, Status
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

FIELDS = [f.name for f in Message._meta.concrete_fields if not f.primary_key]  # every column: no database defaults


def _message(i, user, now):
    return Message(channel=Channel.EMAIL, recipient=user, address=f"user{i}@example.org", topic="case.overdue",
                   subject=f"案件 {i}", payload={"n": i, "tags": ["红", None]}, dedup_key=f"key-{i}",
                   status=Status.PENDING, next_attempt_at=now, created_at=now)


def test_rows_inserted_and_updated_read_back_as_written():
    user = UserFactory()
    now = clock.now()
    made = [_message(i, user, now) for i in range(3)]
    with transaction.atomic():
        insert_rows(Message, FIELDS, row_values(made, FIELDS))
    stored = list(Message.objects.order_by("dedup_key"))
    assert [(m.uuid, m.recipient_id, m.address, m.subject, m.payload, m.status, m.next_attempt_at, m.sent_at)
            for m in stored] == [(m.uuid, user.pk, m.address, m.subject, m.payload, "pending", now, None) for m in made]

    later = now + timedelta(minutes=5)
    for m in stored:
        m.status, m.next_attempt_at, m.locked_until, m.sent_at = Status.SENT, later, None, later
    stored[0].subject = "改过的主题"
    with transaction.atomic():
        update_rows(stored, ["status", "next_attempt_at", "locked_until", "sent_at", "subject"])
    again = list(Message.objects.order_by("dedup_key"))
    assert [(m.status, m.next_attempt_at, m.locked_until, m.sent_at) for m in again] == [("sent", later, None, later)] * 3
    assert [m.subject for m in again] == ["改过的主题", "案件 1", "案件 2"]
    assert [m.address for m in again] == [m.address for m in made]  # untouched fields stay


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_commit_without_waiting_for_disk_holds_for_its_transaction_only():
    from django.db import connection

    from fengqiao.core.db import commit_without_waiting_for_disk

    def setting() -> str | None:
        if connection.vendor != "postgresql":
            return None
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return cursor.fetchone()[0]

    default = setting()
    commit_without_waiting_for_disk()  # outside a transaction: nothing to relax
    assert setting() == default
    with transaction.atomic():
        commit_without_waiting_for_disk()
        assert setting() == (None if connection.vendor != "postgresql" else "off")
    assert setting() == default and default in (None, "on")


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the connection settings of PostgreSQL")
def test_postgresql_binds_on_the_server_prepares_repeats_and_plans_each_run_for_its_values():
    from fengqiao.cases.models import Case

    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        # a generic plan of `next_due_at <= $1` does not know "now" from "the end of time": it
        # would read every case to find nothing due
        assert cursor.fetchone()[0] == "force_custom_plan"
    assert connection.connection.prepare_threshold == 5
    for _ in range(8):  # past the threshold: prepared
        assert not Case.objects.filter(next_due_at__lte=clock.now()).exists()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] >= 1
