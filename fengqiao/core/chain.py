"""The hashing shared by the append-only event logs (cases, disputes).

hash = SHA-256(prev_hash || canonical JSON of the event's body): keys sorted, no spaces, text as is
(not escaped), times in UTC with microseconds. Changing any of this would break every stored chain.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any


def json_safe(payload: dict[str, Any] | None) -> dict[str, Any]:
    """The payload as it reads back from a JSON column (dates and the like as text)."""
    return json.loads(json.dumps(payload or {}, ensure_ascii=False, default=str))


def utc_stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def chain_hash(prev_hash: str, body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(prev_hash.encode() + canonical).hexdigest()
