"""Orders in the members table: the latest known state of each order, versioned for conditions."""

from __future__ import annotations

from decimal import Decimal

from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from omo2c.core.dynamo import DecimalAttribute, MembersTableItem, plain
from omo2c.orders.model import OrderRecord


class ByMemberOrders(GlobalSecondaryIndex):
    """A member's orders, newest first: the staff console's order history."""

    class Meta:
        index_name = "ByMemberOrders"
        projection = AllProjection()

    order_member_id = UnicodeAttribute(hash_key=True)
    placed_at = NumberAttribute(range_key=True)


class OrderItem(MembersTableItem):
    """pk=ORDER#<source>#<order_id>, sk=ORDER: the latest known state of one order."""

    source = UnicodeAttribute()
    order_id = UnicodeAttribute()
    member_id = UnicodeAttribute(null=True)
    order_member_id = UnicodeAttribute(null=True)  # member_id again, only where placed_at is known (the index's keys)
    channel = UnicodeAttribute()
    currency = UnicodeAttribute(default="TWD")
    store_id = UnicodeAttribute(null=True)
    staff_id = UnicodeAttribute(null=True)
    referral_code = UnicodeAttribute(null=True)
    total = DecimalAttribute(default=lambda: Decimal(0))
    discount = DecimalAttribute(default=lambda: Decimal(0))
    shipping = DecimalAttribute(default=lambda: Decimal(0))
    refunds = MapAttribute(default=dict)
    status = UnicodeAttribute(default="pending")
    placed_at = NumberAttribute(null=True)
    rank = UnicodeAttribute(default="")
    updated_at = NumberAttribute(default=0)
    items = ListAttribute(default=list)
    version = NumberAttribute(default=0)
    coupons = ListAttribute(null=True)
    points_redeemed = NumberAttribute(null=True)
    by_member = ByMemberOrders()


def order_key(source: str, order_id: str) -> tuple[str, str]:
    return f"ORDER#{source}#{order_id}", "ORDER"


def order_from_item(item: OrderItem) -> OrderRecord:
    return OrderRecord(
        source=item.source, order_id=item.order_id, member_id=item.member_id, channel=item.channel,
        currency=item.currency, store_id=item.store_id, staff_id=item.staff_id,
        referral_code=item.referral_code, total=item.total, discount=item.discount,
        shipping=item.shipping,
        refunds={k: Decimal(str(v)) for k, v in (plain(item.refunds) or {}).items()},
        status=item.status, placed_at=int(item.placed_at) if item.placed_at is not None else None,
        rank=item.rank, updated_at=int(item.updated_at or 0), items=plain(item.items) or [],
        version=int(item.version or 0),
        coupons=tuple(plain(item.coupons) or ()), points_redeemed=int(item.points_redeemed or 0),
    )


def order_item(order: OrderRecord, version: int) -> OrderItem:
    item = OrderItem(*order_key(order.source, order.order_id))
    item.source, item.order_id, item.member_id = order.source, order.order_id, order.member_id
    item.channel, item.currency = order.channel, order.currency
    item.store_id, item.staff_id, item.referral_code = order.store_id, order.staff_id, order.referral_code
    item.total, item.discount, item.shipping = order.total, order.discount, order.shipping
    item.refunds = {k: str(v) for k, v in order.refunds.items()}
    item.status, item.placed_at, item.rank = order.status, order.placed_at, order.rank
    item.updated_at, item.items, item.version = order.updated_at, order.items, version
    item.order_member_id = order.member_id if order.placed_at is not None else None
    item.coupons = list(order.coupons) or None
    item.points_redeemed = order.points_redeemed or None
    return item


def member_orders(member_ids: list[str], limit: int, before: int | None) -> tuple[list[OrderRecord], int | None]:
    """The newest orders of a member and the members merged into it (each id one Query), and the
    ``placed_at`` to ask ``before`` for the next page (None on the last)."""
    found: list[OrderRecord] = []
    for member_id in dict.fromkeys(member_ids):
        condition = OrderItem.placed_at < before if before is not None else None
        found += [order_from_item(item) for item in OrderItem.by_member.query(
            member_id, condition, scan_index_forward=False, limit=limit + 1)]
    found.sort(key=lambda o: (o.placed_at or 0, o.order_id), reverse=True)
    page = found[:limit]
    return page, (page[-1].placed_at if len(found) > limit and page else None)
