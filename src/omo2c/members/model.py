"""Members and orders as the business sees them, and the pure rules that change them.

Nothing here talks to AWS: the resolution service reads snapshots through a store port,
decides with these rules and hands the store one write plan to commit atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from omo2c.identity.identifiers import Identifier

PROFILE_FIELDS = ("name",)
ACTIVITY_SHARDS = 8
NO_ORDER_DAY = "0000-00-00"


class Napl(StrEnum):
    """New / Active / Passive / Lost, from first and last order times."""

    NEW = "new"
    ACTIVE = "active"
    PASSIVE = "passive"
    LOST = "lost"
    PROSPECT = "prospect"


@dataclass(frozen=True)
class ProfileValue:
    value: str
    source: str
    at: int


@dataclass(frozen=True)
class Rfm:
    first_order_at: int | None = None
    last_order_at: int | None = None
    order_count: int = 0
    net_spent: Decimal = Decimal(0)

    def with_order(self, placed_at: int | None, count_delta: int, net_delta: Decimal) -> Rfm:
        first, last = self.first_order_at, self.last_order_at
        if placed_at is not None:
            first = placed_at if first is None else min(first, placed_at)
            last = placed_at if last is None else max(last, placed_at)
        return Rfm(first, last, self.order_count + count_delta, self.net_spent + net_delta)

    def combined(self, other: Rfm) -> Rfm:
        firsts = [t for t in (self.first_order_at, other.first_order_at) if t is not None]
        lasts = [t for t in (self.last_order_at, other.last_order_at) if t is not None]
        return Rfm(
            min(firsts) if firsts else None,
            max(lasts) if lasts else None,
            self.order_count + other.order_count,
            self.net_spent + other.net_spent,
        )

    def without(self, other: Rfm) -> Rfm:
        """Undo :meth:`combined` for counts and amounts; times keep what remains knowable."""
        return Rfm(self.first_order_at, self.last_order_at,
                   max(0, self.order_count - other.order_count), self.net_spent - other.net_spent)

    def napl(self, now: datetime, window_days: int = 90) -> Napl:
        if self.order_count <= 0 or self.last_order_at is None or self.first_order_at is None:
            return Napl.PROSPECT
        now_ms = int(now.timestamp() * 1000)
        window = window_days * 86_400_000
        if now_ms - self.last_order_at > 2 * window:
            return Napl.LOST
        if now_ms - self.last_order_at > window:
            return Napl.PASSIVE
        if now_ms - self.first_order_at <= window and self.order_count == 1:
            return Napl.NEW
        return Napl.ACTIVE


@dataclass
class Member:
    member_id: str
    created_at: int
    status: str = "live"
    merged_into: str | None = None
    identifiers: list[Identifier] = field(default_factory=list)
    profile: dict[str, ProfileValue] = field(default_factory=dict)
    consent: dict[str, bool] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    rfm: Rfm = field(default_factory=Rfm)
    absorbed: list[str] = field(default_factory=list)
    last_event_at: int = 0
    version: int = 0
    line: dict[str, object] = field(default_factory=dict)
    binding: dict[str, object] = field(default_factory=dict)
    opted_out: bool = False

    @property
    def live(self) -> bool:
        return self.status == "live"

    def profile_value(self, name: str) -> str | None:
        entry = self.profile.get(name)
        return entry.value if entry else None


def merge_profiles(*profiles: dict[str, ProfileValue]) -> dict[str, ProfileValue]:
    """Each field takes the most recent non-empty value, with its source."""
    merged: dict[str, ProfileValue] = {}
    for profile in profiles:
        for name, entry in profile.items():
            if not entry.value:
                continue
            current = merged.get(name)
            if current is None or entry.at >= current.at:
                merged[name] = entry
    return merged


def update_consent(current: dict[str, bool], incoming: dict[str, bool]) -> dict[str, bool]:
    """A member's newest statement of consent replaces the older one, channel by channel."""
    return {**current, **incoming}


def merge_consent(first: dict[str, bool], second: dict[str, bool]) -> dict[str, bool]:
    """Merging two members: an opt-out on either side wins over an opt-in."""
    merged = dict(first)
    for channel, value in second.items():
        merged[channel] = merged[channel] and value if channel in merged else value
    return merged


def choose_survivor(members: list[Member]) -> Member:
    """The oldest member survives a merge (ties broken by id, so every writer agrees)."""
    return min(members, key=lambda m: (m.created_at, m.member_id))


@dataclass(frozen=True)
class OrderContribution:
    """What one order adds to its member's RFM."""

    counted: bool
    net_kept: Decimal
    placed_at: int | None


@dataclass
class OrderRecord:
    source: str
    order_id: str
    member_id: str | None
    channel: str
    currency: str = "TWD"
    store_id: str | None = None
    staff_id: str | None = None
    referral_code: str | None = None
    total: Decimal = Decimal(0)
    discount: Decimal = Decimal(0)
    shipping: Decimal = Decimal(0)
    refunds: dict[str, Decimal] = field(default_factory=dict)
    status: str = "pending"
    placed_at: int | None = None
    rank: str = ""
    updated_at: int = 0
    items: list[dict[str, object]] = field(default_factory=list)
    version: int = 0

    @property
    def net(self) -> Decimal:
        return max(Decimal(0), self.total - self.shipping)

    @property
    def refunded(self) -> Decimal:
        return sum(self.refunds.values(), Decimal(0))

    @property
    def net_kept(self) -> Decimal:
        if self.status == "cancelled":
            return Decimal(0)
        return max(Decimal(0), self.net - self.refunded)

    def contribution(self) -> OrderContribution:
        counted = self.status == "open"
        return OrderContribution(counted, self.net_kept if counted else Decimal(0), self.placed_at)


def order_rank(source_version: int | None, occurred_ms: int) -> str:
    """Sortable version of an order snapshot: the source's version first, then event time."""
    return f"{(source_version if source_version is not None else 0):012d}.{occurred_ms:015d}"


def apply_snapshot(order: OrderRecord, *, rank: str, occurred_ms: int, total: Decimal, discount: Decimal,
                   shipping: Decimal, items: list[dict[str, object]], store_id: str | None,
                   staff_id: str | None, referral_code: str | None, currency: str,
                   member_id: str | None) -> OrderRecord:
    """A created/updated snapshot replaces amounts only when it is newer than what we hold."""
    placed = occurred_ms if order.placed_at is None else min(order.placed_at, occurred_ms)
    if order.status != "pending" and rank <= order.rank:
        return replace(order, placed_at=placed)
    status = "cancelled" if order.status == "cancelled" else "open"
    return replace(
        order, rank=rank, total=total, discount=discount, shipping=shipping, items=items,
        store_id=store_id or order.store_id, staff_id=staff_id or order.staff_id,
        referral_code=referral_code or order.referral_code, currency=currency,
        member_id=member_id or order.member_id, status=status, placed_at=placed,
    )


def apply_refunds(order: OrderRecord, refunds: dict[str, Decimal]) -> OrderRecord:
    """Each refund id is applied once, whenever it arrives (before its order, too)."""
    merged = dict(order.refunds)
    for refund_id, amount in refunds.items():
        merged.setdefault(refund_id, amount)
    return replace(order, refunds=merged)


def apply_cancel(order: OrderRecord) -> OrderRecord:
    return replace(order, status="cancelled")


def contribution_delta(before: OrderRecord | None, after: OrderRecord) -> tuple[int, Decimal, int | None]:
    """Change in (order count, net spent) and the placed time to fold into first/last order."""
    old = before.contribution() if before else OrderContribution(False, Decimal(0), None)
    new = after.contribution()
    placed = new.placed_at if new.counted else None
    return int(new.counted) - int(old.counted), new.net_kept - old.net_kept, placed


def activity_shard(member_id: str) -> str:
    """Spread the campaign activity index over a few partitions, stable per member."""
    return f"A{sum(member_id.encode()) % ACTIVITY_SHARDS}"


def ms_to_day(ms: int, tz_offset_hours: int = 8) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC) + timedelta(hours=tz_offset_hours)
    return moment.strftime("%Y-%m-%d")


def member_view(member: Member, merges: list[dict[str, object]], now: datetime, window_days: int = 90,
                ) -> dict[str, object]:
    """The admin's picture of one member: identities masked, RFM, NAPL, binding, merges."""
    from omo2c.core.privacy import mask_email, mask_phone

    def masked(identifier: Identifier) -> dict[str, str]:
        value = identifier.value
        if identifier.kind.value == "phone":
            value = mask_phone(value)
        elif identifier.kind.value == "email":
            value = mask_email(value)
        return {"kind": identifier.kind.value, "value": value}

    rfm = member.rfm
    return {
        "member_id": member.member_id,
        "status": member.status,
        "created_at": _iso(member.created_at),
        "name": member.profile_value("name"),
        "profile": {k: {"value": v.value, "source": v.source, "at": _iso(v.at)} for k, v in member.profile.items()},
        "identities": [masked(i) for i in member.identifiers],
        "consent": member.consent,
        "tags": member.tags,
        "orders": {
            "count": rfm.order_count,
            "net_spent": str(rfm.net_spent),
            "first_order_at": _iso(rfm.first_order_at),
            "last_order_at": _iso(rfm.last_order_at),
        },
        "napl": rfm.napl(now, window_days).value,
        "line": member.line,
        "binding": member.binding or None,
        "merged_members": member.absorbed,
        "merges": merges,
    }


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
