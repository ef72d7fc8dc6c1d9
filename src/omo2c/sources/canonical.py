"""The canonical event every POS/EC source is mapped into; its JSON Schema is public.

Generic sources post these directly; platform adapters (Shopify, ...) map their own
payloads into them. Amounts are in the currency's major unit, as Decimals.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Json,
    StringConstraints,
    model_validator,
)

MAX_EVENTS_PER_DELIVERY = 100

Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128,
                                      pattern=r"^[A-Za-z0-9][A-Za-z0-9._:#/@\-]*$")]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=256)]
Amount = Annotated[Decimal, Field(ge=0, le=Decimal("1e12"), decimal_places=4, allow_inf_nan=False)]
_BIRTHDAY = re.compile(r"^(?:([0-9]{4})-)?([0-9]{2})-([0-9]{2})$")
EARLIEST_BIRTH_YEAR = 1900


def _blank_is_none(value: object) -> object:
    """A POS that sends ``""`` for an unknown birthday sends no birthday."""
    return None if isinstance(value, str) and not value.strip() else value


def _real_day(text: str) -> str:
    """``YYYY-MM-DD`` of a day that exists, from 1900 up to today; ``MM-DD`` of a day some year has (02-29 too)."""
    match = _BIRTHDAY.fullmatch(text)
    if match is None:
        raise ValueError("must be YYYY-MM-DD or MM-DD")
    year, month, day = match.groups()
    try:
        born = date(int(year or 2000), int(month), int(day))  # 2000 is a leap year: MM-DD may be 02-29
    except ValueError as exc:
        raise ValueError("not a day of the calendar") from exc
    if year is not None and not EARLIEST_BIRTH_YEAR <= born.year <= datetime.now(tz=UTC).year:
        raise ValueError(f"the year must be from {EARLIEST_BIRTH_YEAR} to this year")
    return text


Birthday = Annotated[str, StringConstraints(strip_whitespace=True, pattern=_BIRTHDAY.pattern),
                     AfterValidator(_real_day)]


class EventType(StrEnum):
    ORDER_CREATED = "order.created"
    ORDER_UPDATED = "order.updated"
    ORDER_REFUNDED = "order.refunded"
    ORDER_CANCELLED = "order.cancelled"
    MEMBER_UPSERTED = "member.upserted"


class Channel(StrEnum):
    POS = "pos"
    EC = "ec"
    LINE = "line"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)


class Consent(_Model):
    sms: bool | None = None
    email: bool | None = None
    line: bool | None = None


class Customer(_Model):
    phone: ShortText | None = None
    email: ShortText | None = None
    name: ShortText | None = None
    pos_member_no: ShortText | None = None
    ec_customer_id: ShortText | None = None
    line_user_id: ShortText | None = None
    member_code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{12,24}$")] | None = Field(
        default=None, description="The rotating code of the member card the cashier scanned (digits); "
                                  "an expired or forged code is refused.")
    consent: Consent | None = None
    tags: list[ShortText] = Field(default_factory=list, max_length=50)
    birthday: Annotated[Birthday | None, BeforeValidator(_blank_is_none)] = Field(
        default=None, description="The customer's birthday: `YYYY-MM-DD`, or `MM-DD` when the year is unknown.",
        examples=["1990-03-14", "03-14"])


class Item(_Model):
    sku: ShortText | None = None
    name: ShortText | None = None
    quantity: int = Field(default=1, ge=0, le=100_000)
    price: Amount = Decimal(0)
    category: ShortText | None = None


class Refund(_Model):
    refund_id: Id
    amount: Amount
    occurred_at: AwareDatetime | None = None
    reason: ShortText | None = None


class Order(_Model):
    order_id: Id
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "TWD"
    total: Amount | None = None
    discount: Amount = Decimal(0)
    shipping: Amount = Decimal(0)
    items: list[Item] = Field(default_factory=list, max_length=500)
    refunds: list[Refund] = Field(default_factory=list, max_length=100)
    version: int | None = Field(default=None, ge=0, description="Source's order version; newer wins.")
    coupons: list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=20, description="Coupon codes redeemed by this order.")
    points_redeemed: int = Field(default=0, ge=0, le=10_000_000, description="Points the customer paid with.")

    @property
    def net(self) -> Decimal:
        """Net amount after discounts and without shipping."""
        return max(Decimal(0), (self.total or Decimal(0)) - self.shipping)


class CanonicalEvent(_Model):
    """One business event from a POS or EC source."""

    event_id: Id
    type: EventType
    occurred_at: AwareDatetime
    channel: Channel
    store_id: Id | None = None
    staff_id: Id | None = None
    referral_code: ShortText | None = None
    customer: Customer = Field(default_factory=Customer)
    order: Order | None = None
    source: str | None = Field(default=None, description="Set by the edge: the integration name.")

    @model_validator(mode="after")
    def _order_fields(self) -> CanonicalEvent:
        if self.type is EventType.MEMBER_UPSERTED:
            return self
        if self.order is None:
            raise ValueError(f"{self.type.value} needs an order object")
        if self.type in (EventType.ORDER_CREATED, EventType.ORDER_UPDATED) and self.order.total is None:
            raise ValueError("order.total is required for order.created and order.updated")
        if self.type is EventType.ORDER_REFUNDED and not self.order.refunds:
            raise ValueError("order.refunded needs at least one refund line in order.refunds")
        return self

    def occurred_epoch_ms(self) -> int:
        return int(self.occurred_at.timestamp() * 1000)


class Delivery(_Model):
    """Body of one generic webhook delivery: one event or a batch of them."""

    events: list[CanonicalEvent] = Field(min_length=1, max_length=MAX_EVENTS_PER_DELIVERY)


def parse_delivery(payload: object) -> list[CanonicalEvent]:
    """Accept one canonical event or ``{"events": [...]}``; raises pydantic ValidationError."""
    if isinstance(payload, dict) and "events" in payload:
        return list(Delivery.model_validate(payload).events)
    return [CanonicalEvent.model_validate(payload)]



class QueuedCanonicalEvent(BaseModel):
    """An ingest queue record as Lambda hands it over: the body is one canonical event."""

    model_config = ConfigDict(extra="ignore")
    messageId: str
    body: Json[CanonicalEvent]
