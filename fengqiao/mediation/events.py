"""The dispute event log: append-only rows, each hashed with the previous one of its dispute.

hash = SHA-256(prev_hash || canonical JSON of the event's fields), as for cases
(fengqiao/cases/events.py). The dispute row keeps the sequence number and hash of its last event,
so a deleted tail shows as well as an edited row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fengqiao.core.chain import chain_hash, json_safe, utc_stamp
from fengqiao.mediation.models import Dispute, DisputeEvent


def event_hash(prev_hash: str, *, number: str, seq: int, action: str, actor_id: int | None, from_state: str,
               to_state: str, reason: str, payload: dict[str, Any], created_at: datetime) -> str:
    body = {
        "dispute": number, "seq": seq, "action": action, "actor": actor_id, "from": from_state, "to": to_state,
        "reason": reason, "payload": payload, "at": utc_stamp(created_at),
    }
    return chain_hash(prev_hash, body)


def append_event(*, dispute: Dispute, action: str, actor: Any, from_state: str, to_state: str, reason: str = "",
                 payload: dict[str, Any] | None = None, now: datetime, is_public: bool = True) -> DisputeEvent:
    """Append an event to a locked dispute (the caller holds the row lock and saves the dispute)."""
    payload = json_safe(payload)
    actor_id = actor.pk if actor is not None and getattr(actor, "pk", None) else None
    seq = dispute.last_event_seq + 1
    fields: dict[str, Any] = dict(number=dispute.number, seq=seq, action=str(action), actor_id=actor_id, from_state=str(from_state),
                  to_state=str(to_state), reason=reason, payload=payload, created_at=now)
    digest = event_hash(dispute.last_event_hash, **fields)
    event = DisputeEvent.objects.create(
        dispute=dispute, seq=seq, action=action, actor_id=actor_id, actor_label=actor_label(actor),
        from_state=from_state, to_state=to_state, reason=reason, payload=payload, is_public=is_public,
        created_at=now, prev_hash=dispute.last_event_hash, hash=digest,
    )
    dispute.last_event_seq, dispute.last_event_hash = seq, digest
    return event


def actor_label(actor: Any) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    mediator = getattr(actor, "mediator", None) if getattr(actor, "pk", None) else None
    if mediator is not None:
        return mediator.display_name
    profile = getattr(actor, "staff_profile", None)
    return profile.display_name if profile else actor.get_username()


@dataclass
class ChainReport:
    disputes: int
    events: int
    broken: str | None  # the first broken link, described; None when the chain holds

    @property
    def ok(self) -> bool:
        return self.broken is None


def verify_chain() -> ChainReport:
    """Walk every dispute's events in order and report the first broken link."""
    disputes = events = 0
    for dispute in Dispute.objects.order_by("pk").only("pk", "number", "last_event_seq", "last_event_hash").iterator():
        disputes += 1
        prev_hash, expected = "", 1
        for event in DisputeEvent.objects.filter(dispute_id=dispute.pk).order_by("seq").iterator():
            if event.seq != expected:
                return ChainReport(disputes, events, f"dispute {dispute.number}: event {expected} is missing")
            if event.prev_hash != prev_hash:
                return ChainReport(disputes, events,
                                   f"dispute {dispute.number}: event {event.seq} does not point to the one before")
            recomputed = event_hash(prev_hash, number=dispute.number, seq=event.seq, action=event.action,
                                    actor_id=event.actor_id, from_state=event.from_state, to_state=event.to_state,
                                    reason=event.reason, payload=event.payload, created_at=event.created_at)
            if recomputed != event.hash:
                return ChainReport(disputes, events, f"dispute {dispute.number}: event {event.seq} was altered")
            prev_hash, expected = event.hash, expected + 1
            events += 1
        if expected - 1 != dispute.last_event_seq or prev_hash != dispute.last_event_hash:
            return ChainReport(disputes, events, f"dispute {dispute.number}: the log ends at event {expected - 1}, "
                                                 f"the dispute expects {dispute.last_event_seq}")
    return ChainReport(disputes, events, None)
