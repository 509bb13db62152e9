"""The case event log: append-only rows, each hashed with the previous one of its case.

hash = SHA-256(prev_hash || canonical JSON of the event's fields). The case row keeps the hash and
sequence number of its last event, so a deleted tail shows as well as an edited row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fengqiao.cases.models import Case, CaseEvent
from fengqiao.core.chain import chain_hash, json_safe, utc_stamp


def event_hash(prev_hash: str, *, number: str, seq: int, action: str, actor_id: int | None, from_state: str,
               to_state: str, level: str, reason: str, payload: dict[str, Any], created_at: datetime) -> str:
    body = {
        "case": number, "seq": seq, "action": action, "actor": actor_id, "from": from_state, "to": to_state,
        "level": level, "reason": reason, "payload": payload, "at": utc_stamp(created_at),
    }
    return chain_hash(prev_hash, body)


def build_event(*, case: Case, action: str, actor: Any, from_state: str, to_state: str, reason: str = "",
                payload: dict[str, Any] | None = None, now: datetime, is_public: bool = True,
                actor_label: str | None = None) -> CaseEvent:
    """The next event of a locked case, hashed onto its chain but not saved; the case row moves to
    it (the caller saves the event after the case exists, e.g. with bulk_create, and saves the case)."""
    payload = json_safe(payload)
    actor_id = actor.pk if actor is not None and getattr(actor, "pk", None) else None
    seq = case.last_event_seq + 1
    fields: dict[str, Any] = dict(number=case.number, seq=seq, action=str(action), actor_id=actor_id, from_state=str(from_state),
                  to_state=str(to_state), level=str(case.level), reason=reason, payload=payload, created_at=now)
    digest = event_hash(case.last_event_hash, **fields)
    event = CaseEvent(
        case=case, seq=seq, action=action, actor_id=actor_id,
        actor_label=actor_label if actor_label is not None else actor_label_of(actor),
        from_state=from_state, to_state=to_state, level=case.level, reason=reason, payload=payload,
        is_public=is_public, created_at=now, prev_hash=case.last_event_hash, hash=digest,
    )
    case.last_event_seq, case.last_event_hash = seq, digest
    return event


def append_event(**kwargs: Any) -> CaseEvent:
    """Append an event to a locked case (the caller holds the row lock and saves the case)."""
    event = build_event(**kwargs)
    event.save(force_insert=True)
    return event


def actor_label_of(actor: Any) -> str:
    """How an event names who acted: the staff member's display name, the username, or "system"."""
    if actor is None:
        return "system"
    profile = getattr(actor, "staff_profile", None)
    return profile.display_name if profile else actor.get_username()


@dataclass
class ChainReport:
    cases: int
    events: int
    broken: str | None  # the first broken link, described; None when the chain holds

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify_chain(*, chunk_size: int = 2000) -> ChainReport:
    """Walk every case's events in order and report the first broken link."""
    cases = events = 0
    case_rows = Case.objects.order_by("pk").values_list("pk", "number", "last_event_seq", "last_event_hash")
    current: tuple | None = None
    prev_hash, expected_seq = "", 1

    def close(case_row) -> str | None:
        pk, number, last_seq, last_hash = case_row
        if expected_seq - 1 != last_seq or prev_hash != last_hash:
            return f"case {number}: the log ends at event {expected_seq - 1}, the case expects {last_seq} ({last_hash[:12]})"
        return None

    case_iter = case_rows.iterator(chunk_size=chunk_size)
    qs = CaseEvent.objects.order_by("case_id", "seq").values_list(
        "case_id", "seq", "action", "actor_id", "from_state", "to_state", "level", "reason", "payload",
        "created_at", "prev_hash", "hash",
    )
    for case_id, seq, action, actor_id, from_state, to_state, level, reason, payload, created_at, prev, digest in (
        qs.iterator(chunk_size=chunk_size)
    ):
        while current is None or current[0] != case_id:
            if current is not None:
                problem = close(current)
                if problem:
                    return ChainReport(cases, events, problem)
            current = next(case_iter, None)
            if current is None or current[0] > case_id:
                return ChainReport(cases, events, f"event {seq} belongs to a case that does not exist (id {case_id})")
            cases += 1
            prev_hash, expected_seq = "", 1
        number = current[1]
        if seq != expected_seq:
            return ChainReport(cases, events, f"case {number}: event {expected_seq} is missing (found {seq})")
        if prev != prev_hash:
            return ChainReport(cases, events, f"case {number}: event {seq} does not point to event {seq - 1}")
        recomputed = event_hash(prev_hash, number=number, seq=seq, action=action, actor_id=actor_id,
                                from_state=from_state, to_state=to_state, level=level, reason=reason,
                                payload=payload, created_at=created_at)
        if recomputed != digest:
            return ChainReport(cases, events, f"case {number}: event {seq} was altered")
        prev_hash, expected_seq = digest, seq + 1
        events += 1
    if current is not None:
        problem = close(current)
        if problem:
            return ChainReport(cases, events, problem)
    for row in case_iter:  # cases after the last event: they must have no events either
        cases += 1
        if row[2] != 0:
            return ChainReport(cases, events, f"case {row[1]}: its {row[2]} events are missing")
    return ChainReport(cases, events, None)
