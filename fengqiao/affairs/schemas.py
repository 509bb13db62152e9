"""Input and output schemas of the village affairs API. Public outputs carry no personal data."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from ninja import Field, Schema
from pydantic import ConfigDict


class In(Schema):
    model_config = ConfigDict(extra="forbid")


class RegionOut(Schema):
    code: str
    name: str


class FileOut(Schema):
    name: str
    kind: str
    content_type: str
    size: int
    url: str


class NoticeOut(Schema):
    id: int
    kind: str
    region: RegionOut
    title: str
    body: str
    pinned: bool
    published_at: datetime | None
    files: list[FileOut] = []


class NoticePageOut(Schema):
    count: int
    items: list[NoticeOut]


class ItemOut(Schema):
    id: int
    title: str
    direction: str
    amount: Decimal | None
    note: str
    files: list[FileOut] = []


class QuestionOut(Schema):
    question: str
    item_title: str
    asked_at: datetime
    state: str
    answers: list[str]


class DisclosureOut(Schema):
    id: int
    village: RegionOut
    kind: str
    year: int
    quarter: int
    period: str
    title: str
    summary: str
    published_at: datetime | None
    income: Decimal
    expense: Decimal
    balance: Decimal
    items: list[ItemOut] = []
    questions: list[QuestionOut] = []


class DisclosurePageOut(Schema):
    count: int
    items: list[DisclosureOut]


class ServiceOut(Schema):
    id: int
    name: str
    office: str
    description: str
    documents: str
    location: str
    duration_minutes: int


class SlotOut(Schema):
    id: int
    start: datetime
    end: datetime
    free: int


class BookingIn(In):
    slot: int
    name: str = Field(..., max_length=50)
    phone: str = Field(..., max_length=30)
    email: str = Field("", max_length=200)
    note: str = Field("", max_length=500)


class BookingOut(Schema):
    code: str
    service: int
    start: datetime
    end: datetime
    state: str
    calendar_url: str


class BookingChangeIn(In):
    phone_last4: str = Field(..., max_length=4)


class RescheduleIn(In):
    phone_last4: str = Field(..., max_length=4)
    slot: int


class ReviewIn(In):
    approve: bool
    reason: str = Field("", max_length=2000)
    version: int | None = None


class VersionIn(In):
    version: int | None = None


class WithdrawIn(In):
    reason: str = Field(..., max_length=2000)
    version: int | None = None


class StateOut(Schema):
    id: int
    state: str
    version: int
