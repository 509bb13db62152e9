"""Background tasks (Django tasks API; run by `fengqiao db_worker`)."""

from __future__ import annotations

from django_tasks import task

from fengqiao.notify.services import deliver_due


@task()
def deliver_outbox(message_ids: list[int] | None = None) -> dict[str, int]:
    """Deliver the given outbox rows (enqueued on commit by `notify`), or every due row."""
    limit = max(100, len(message_ids or ()))
    return deliver_due(message_ids=message_ids, limit=limit).as_dict()
