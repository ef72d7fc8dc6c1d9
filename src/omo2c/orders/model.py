"""Orders as the business sees them: versioned snapshots, refunds applied once, cancellations.

Nothing here talks to AWS. An order's contribution to its member's RFM is computed here, so the
resolver can fold it into the member in the same write as the order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal


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
    coupons: tuple[str, ...] = ()
    points_redeemed: int = 0

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
    """Readable version of an order snapshot: the source's version first, then event time.

    Compare ranks with :func:`rank_key`, never as text: versions come in any length (Shopify's
    are epoch milliseconds) and ranks stored before were padded to 12 digits only."""
    return f"{(source_version if source_version is not None else 0):020d}.{occurred_ms:015d}"


def rank_key(rank: str) -> tuple[int, int]:
    """A rank as numbers (version, event time); an order without a snapshot yet sorts first."""
    version, _, occurred = rank.partition(".")
    if not version.isdigit():
        return (-1, -1)
    return int(version), int(occurred) if occurred.isdigit() else 0


def apply_snapshot(order: OrderRecord, *, rank: str, occurred_ms: int, total: Decimal, discount: Decimal,
                   shipping: Decimal, items: list[dict[str, object]], store_id: str | None,
                   staff_id: str | None, referral_code: str | None, currency: str,
                   member_id: str | None, coupons: tuple[str, ...] = (), points_redeemed: int = 0) -> OrderRecord:
    """A created/updated snapshot replaces amounts only when it is newer than what we hold."""
    placed = occurred_ms if order.placed_at is None else min(order.placed_at, occurred_ms)
    if order.status != "pending" and rank_key(rank) <= rank_key(order.rank):
        return replace(order, placed_at=placed)
    status = "cancelled" if order.status == "cancelled" else "open"
    return replace(
        order, rank=rank, total=total, discount=discount, shipping=shipping, items=items,
        store_id=store_id or order.store_id, staff_id=staff_id or order.staff_id,
        referral_code=referral_code or order.referral_code, currency=currency,
        member_id=member_id or order.member_id, status=status, placed_at=placed,
        coupons=coupons or order.coupons, points_redeemed=points_redeemed or order.points_redeemed,
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
