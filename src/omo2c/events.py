"""Every event the bus carries, as a typed, versioned model.

Producers build these; consumers parse them (inside their EventBridge envelope, inside the SQS
record that delivers them) with the same models, so a malformed event fails its record, which
goes back to the queue and, after the redrive count, to the dead-letter queue. The schema of
every event is generated into ``docs/events.schema.json``.

A field may be added to a version without breaking consumers (they ignore what they do not
know); removing or changing one is a new ``schema_version``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, Json, create_model

MEMBERS_SOURCE = "omo2c.ingest"
BINDING_SOURCE = "omo2c.bind"
LOYALTY_SOURCE = "omo2c.loyalty"
ATTRIBUTION_SOURCE = "omo2c.attribute"
CAMPAIGNS_SOURCE = "omo2c.notify"


class BusEvent(BaseModel):
    """One event on the bus: ``DETAIL_TYPE`` is its EventBridge detail-type, ``SOURCE`` who speaks.

    Validators are built on an event type's first use (``defer_build``): a function meets a few of them."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)
    DETAIL_TYPE: ClassVar[str]
    SOURCE: ClassVar[str]
    schema_version: Literal[1] = 1

    def stored(self) -> dict[str, Any]:
        """The form kept beside the write it announces, so a redelivery can publish it again."""
        return {"detail_type": self.DETAIL_TYPE, "detail": self.model_dump(mode="json")}


class MemberCreated(BusEvent):
    """A new member was made by the first event that carried none of their known identifiers."""

    DETAIL_TYPE: ClassVar[str] = "member.created"
    SOURCE: ClassVar[str] = MEMBERS_SOURCE
    member_id: str
    event_id: str
    channel: str
    source: str | None = None
    store_id: str | None = None
    staff_id: str | None = None
    consent: dict[str, bool] = Field(default_factory=dict)
    occurred_at: datetime


class MemberMerged(BusEvent):
    """An event carried identifiers of two members: the older survives, the other points to it."""

    DETAIL_TYPE: ClassVar[str] = "member.merged"
    SOURCE: ClassVar[str] = MEMBERS_SOURCE
    survivor_id: str
    absorbed_id: str
    merge_id: str
    event_id: str
    occurred_at: datetime


class MemberUnmerged(BusEvent):
    """An admin undid a recorded merge: the absorbed member is live again with what it brought."""

    DETAIL_TYPE: ClassVar[str] = "member.unmerged"
    SOURCE: ClassVar[str] = MEMBERS_SOURCE
    survivor_id: str
    restored_member_id: str
    merge_id: str


class MemberBound(BusEvent):
    """A member now belongs to this staff member (or store): by a QR scan, or a transfer when staff left."""

    DETAIL_TYPE: ClassVar[str] = "member.bound"
    SOURCE: ClassVar[str] = BINDING_SOURCE
    member_id: str
    staff_id: str | None = None
    staff_name: str | None = None
    store_id: str | None = None
    line_user_id: str | None = None
    via: str
    bound_at: datetime
    policy_version: str


class MemberUnbound(BusEvent):
    """A member no longer belongs to this staff member (they were rebound or handed over)."""

    DETAIL_TYPE: ClassVar[str] = "member.unbound"
    SOURCE: ClassVar[str] = BINDING_SOURCE
    member_id: str
    staff_id: str | None = None
    store_id: str | None = None
    via: str
    at: datetime


class MemberPhoneVerified(BusEvent):
    """A LINE user proved a phone with a one-time code; ``merged`` lists members that became one."""

    DETAIL_TYPE: ClassVar[str] = "member.phone_verified"
    SOURCE: ClassVar[str] = BINDING_SOURCE
    member_id: str
    line_user_id: str
    merged: list[str] = Field(default_factory=list)
    at: datetime


class OrderRecorded(BusEvent):
    """A new recorded state of one order; ``version`` counts the order's states, so a higher one is newer."""

    DETAIL_TYPE: ClassVar[str] = "order.recorded"
    SOURCE: ClassVar[str] = MEMBERS_SOURCE
    event_id: str
    event_type: str
    member_id: str = ""
    source: str
    order_id: str
    channel: str
    store_id: str | None = None
    staff_id: str | None = None
    referral_code: str | None = None
    currency: str = "TWD"
    total: Decimal
    discount: Decimal = Decimal(0)
    shipping: Decimal = Decimal(0)
    net: Decimal
    refunded: Decimal = Decimal(0)
    net_kept: Decimal
    status: Literal["pending", "open", "cancelled"]
    placed_at: int | None = Field(default=None, description="Epoch milliseconds of the first snapshot.")
    version: Annotated[str, Field(pattern=r"^\d{8}$")]
    snapshot_rank: str = ""
    items: list[dict[str, Any]] = Field(default_factory=list)
    coupons: list[str] = Field(default_factory=list, description="Coupon codes the order redeemed.")
    points_redeemed: int = Field(default=0, ge=0, description="Points the customer paid with.")
    occurred_at: datetime


class MemberTierChanged(BusEvent):
    """A member moved to another tier: up at once on the order that crossed a threshold, down only at a review."""

    DETAIL_TYPE: ClassVar[str] = "member.tier_changed"
    SOURCE: ClassVar[str] = LOYALTY_SOURCE
    member_id: str
    from_tier: str | None = Field(description="None for a member's first tier.")
    to_tier: str
    direction: Literal["up", "down"]
    reason: str = Field(description="Why, in words: the order that crossed the threshold, or the review.")
    spend_in_window: Decimal
    order_ref: str | None = Field(default=None, description="<source>#<order id> of the order that crossed it.")
    at: datetime


class MemberLineUnfollowed(BusEvent):
    """A customer blocked (unfollowed) the Official Account: a campaign sent just before is charged with it."""

    DETAIL_TYPE: ClassVar[str] = "member.line_unfollowed"
    SOURCE: ClassVar[str] = BINDING_SOURCE
    member_id: str
    line_user_id: str
    at: datetime


class CommissionRecorded(BusEvent):
    """One ledger entry of an order's commission: a sale credited to staff, or an adjustment of it.
    ``seq`` numbers the order's entries, so (source, order_id, seq) is applied once."""

    DETAIL_TYPE: ClassVar[str] = "commission.recorded"
    SOURCE: ClassVar[str] = ATTRIBUTION_SOURCE
    source: str
    order_id: str
    seq: int
    kind: str
    channel: str
    staff_id: str | None = None
    store_id: str | None = None
    month: Annotated[str, Field(pattern=r"^\d{4}-\d{2}$")]
    base: Decimal = Field(description="The sales amount this entry credits (negative when it takes back).")
    currency: str = "TWD"
    at: datetime


class CampaignConverted(BusEvent):
    """An order counted as a conversion of the campaign send that last touched the member."""

    DETAIL_TYPE: ClassVar[str] = "campaign.converted"
    SOURCE: ClassVar[str] = CAMPAIGNS_SOURCE
    campaign_id: str
    run_id: str
    member_id: str
    channel: str | None = Field(default=None, description="The channel of the send that converted.")
    source: str
    order_id: str
    store_id: str | None = Field(default=None, description="The order's store (POS), else the member's home store.")
    staff_id: str | None = Field(default=None, description="The member's bound staff member at the order.")
    revenue: Decimal
    currency: str = "TWD"
    at: datetime


EVENTS: tuple[type[BusEvent], ...] = (MemberCreated, MemberMerged, MemberUnmerged, MemberBound, MemberUnbound,
                                      MemberPhoneVerified, OrderRecorded, MemberTierChanged, MemberLineUnfollowed,
                                      CommissionRecorded, CampaignConverted)
BY_DETAIL_TYPE: dict[str, type[BusEvent]] = {e.DETAIL_TYPE: e for e in EVENTS}


def from_stored(stored: dict[str, Any]) -> BusEvent:
    """Read back what :meth:`BusEvent.stored` kept."""
    return BY_DETAIL_TYPE[str(stored["detail_type"])].model_validate(stored["detail"])


# ---------------------------------------------------------------------- what consumers parse
class Envelope(BaseModel):
    """The EventBridge envelope as a rule delivers it to a queue."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", defer_build=True)
    id: str
    source: str
    time: datetime
    detail_type: str = Field(alias="detail-type")
    detail: BusEvent


def envelope_of(event: type[BusEvent]) -> type[Envelope]:
    return create_model(  # type: ignore[call-overload, no-any-return]
        f"{event.__name__}Envelope", __base__=Envelope,
        detail_type=(Literal[event.DETAIL_TYPE], Field(alias="detail-type")), detail=(event, ...))


ENVELOPES: dict[str, type[Envelope]] = {e.DETAIL_TYPE: envelope_of(e) for e in EVENTS}


class QueuedRecord(BaseModel):
    """An SQS record as Lambda hands it over; ``body`` is what the queue carries."""

    model_config = ConfigDict(extra="ignore")
    messageId: str
    receiptHandle: str = ""
    body: Any


def queued(*events: type[BusEvent]) -> type[QueuedRecord]:
    """The record model of a queue that a rule feeds with these events (and nothing else)."""
    envelopes = tuple(ENVELOPES[e.DETAIL_TYPE] for e in events)
    body: Any = envelopes[0]
    if len(envelopes) > 1:
        body = Annotated[Union[envelopes], Field(discriminator="detail_type")]  # noqa: UP007
    names = "".join(e.__name__ for e in events)
    return create_model(f"Queued{names}", __base__=QueuedRecord,  # type: ignore[call-overload, no-any-return]
                        body=(Json[body], ...))


def schema() -> dict[str, Any]:
    """JSON Schema of every bus event, with its detail-type, source and version."""
    defs: dict[str, Any] = {}
    events = []
    for event in EVENTS:
        document = event.model_json_schema(ref_template="#/$defs/{model}")
        defs.update(document.pop("$defs", {}))
        defs[event.__name__] = document
        events.append({"detail-type": event.DETAIL_TYPE, "source": event.SOURCE, "schema_version": 1,
                       "detail": {"$ref": f"#/$defs/{event.__name__}"}})
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "OMO2C bus events",
        "description": "Every event on the OMO2C EventBridge bus: its detail-type, source and detail schema.",
        "events": events,
        "oneOf": [{"$ref": f"#/$defs/{e.__name__}"} for e in EVENTS],
        "$defs": dict(sorted(defs.items())),
    }
