"""Proposing mediators for a dispute: a pure function over candidates, and its score.

Excluded outright (with the reason kept, so the desk can say why someone is missing):
- conflict of interest: the mediator is a party (same phone or ID number blind index), or declared
  a link to a party (same phone or ID blind index in MediatorLink);
- refused: a party asked for another mediator on this dispute (MediatorRefusal);
- unavailable: marked unavailable, or absent / in another session at the proposed time;
- full: open disputes already at the mediator's capacity.

Score of the others (higher is better; at most 100):
- specialty, 40: the mediator's specialties include the dispute's type (40) or its parent type (30);
  the mediator's organisation covers the type (15); otherwise 0;
- area, 25: same village (or grid's village) 25, same township 15, same county 5, elsewhere 0;
- load, 20: 20 × (1 − open / capacity);
- languages, 10: the mediator speaks one of the languages or dialects the parties asked for (10);
  nothing asked: 5 for everyone;
- availability, 5: no session that day already (5), otherwise 0.

Ties break on fewer open disputes, then on the name, so the order is stable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

# weights (documented above and in docs/mediation.md)
W_SPECIALTY, W_SPECIALTY_PARENT, W_ORG_SPECIALTY = 40, 30, 15
W_VILLAGE, W_TOWNSHIP, W_COUNTY = 25, 15, 5
W_LOAD = 20
W_LANGUAGE, W_LANGUAGE_NONE_ASKED = 10, 5
W_FREE_DAY = 5

CONFLICT = "conflict_of_interest"
REFUSED = "refused"
UNAVAILABLE = "unavailable"
BUSY = "busy"
FULL = "full"


@dataclass(frozen=True)
class Candidate:
    """What matching needs to know about one mediator (built by selectors.match_mediators)."""

    id: int
    name: str
    specialties: frozenset[str]  # dispute type codes
    organisation_specialties: frozenset[str]
    area_code: str  # the mediator's home region code
    open_load: int
    capacity: int
    is_available: bool = True
    languages: frozenset[str] = frozenset()
    phone_index: str = ""
    id_number_index: str = ""
    link_indexes: frozenset[str] = frozenset()  # blind indexes of declared links (phones and IDs)
    busy_at_time: bool = False  # absent or in another session at the proposed time
    sessions_that_day: int = 0


@dataclass(frozen=True)
class MatchRequest:
    type_code: str
    parent_type_code: str = ""
    area_code: str = ""  # the dispute's grid or region code
    party_indexes: frozenset[str] = frozenset()  # blind indexes of the parties' phones and ID numbers
    refused_ids: frozenset[int] = frozenset()
    languages: frozenset[str] = frozenset()
    at: datetime | None = None  # a proposed session time, when there is one


@dataclass
class Match:
    candidate: Candidate
    score: float
    parts: dict[str, float] = field(default_factory=dict)  # the score, item by item


@dataclass
class Exclusion:
    candidate: Candidate
    reason: str


@dataclass
class MatchResult:
    proposals: list[Match]
    ranked: list[Match]  # every eligible candidate, best first
    excluded: list[Exclusion]


def has_conflict(candidate: Candidate, request: MatchRequest) -> bool:
    own = {i for i in (candidate.phone_index, candidate.id_number_index) if i}
    return bool((own | set(candidate.link_indexes)) & set(request.party_indexes))


def _area_score(mediator_area: str, dispute_area: str) -> float:
    if not mediator_area or not dispute_area:
        return 0
    if len(mediator_area) >= 12 and dispute_area[:12] == mediator_area[:12]:
        return W_VILLAGE
    if len(mediator_area) >= 9 and dispute_area[:9] == mediator_area[:9]:
        return W_TOWNSHIP
    if dispute_area[:6] == mediator_area[:6]:
        return W_COUNTY
    return 0


def score(candidate: Candidate, request: MatchRequest) -> Match:
    parts: dict[str, float] = {}
    if request.type_code in candidate.specialties:
        parts["specialty"] = W_SPECIALTY
    elif request.parent_type_code and request.parent_type_code in candidate.specialties:
        parts["specialty"] = W_SPECIALTY_PARENT
    elif request.type_code in candidate.organisation_specialties or (
            request.parent_type_code and request.parent_type_code in candidate.organisation_specialties):
        parts["specialty"] = W_ORG_SPECIALTY
    else:
        parts["specialty"] = 0
    parts["area"] = _area_score(candidate.area_code, request.area_code)
    capacity = max(candidate.capacity, 1)
    parts["load"] = round(W_LOAD * max(0.0, 1 - candidate.open_load / capacity), 2)
    if request.languages:
        parts["languages"] = W_LANGUAGE if candidate.languages & request.languages else 0
    else:
        parts["languages"] = W_LANGUAGE_NONE_ASKED
    parts["free_day"] = W_FREE_DAY if candidate.sessions_that_day == 0 else 0
    return Match(candidate=candidate, score=round(sum(parts.values()), 2), parts=parts)


def rank(candidates: Iterable[Candidate], request: MatchRequest, *, limit: int = 3) -> MatchResult:
    """Exclude who may not or cannot mediate, score the rest, and propose the best `limit`."""
    eligible: list[Match] = []
    excluded: list[Exclusion] = []
    for candidate in candidates:
        if has_conflict(candidate, request):
            excluded.append(Exclusion(candidate, CONFLICT))
        elif candidate.id in request.refused_ids:
            excluded.append(Exclusion(candidate, REFUSED))
        elif not candidate.is_available:
            excluded.append(Exclusion(candidate, UNAVAILABLE))
        elif request.at is not None and candidate.busy_at_time:
            excluded.append(Exclusion(candidate, BUSY))
        elif candidate.open_load >= candidate.capacity:
            excluded.append(Exclusion(candidate, FULL))
        else:
            eligible.append(score(candidate, request))
    eligible.sort(key=lambda m: (-m.score, m.candidate.open_load, m.candidate.name, m.candidate.id))
    return MatchResult(proposals=eligible[:limit], ranked=eligible, excluded=excluded)


def languages_of(text: str | Sequence[str]) -> frozenset[str]:
    """'普通话, 诸暨话' -> {'普通话', '诸暨话'} (case-folded, trimmed)."""
    items = text.replace("，", ",").split(",") if isinstance(text, str) else list(text)
    return frozenset(x.strip().casefold() for x in items if x.strip())
