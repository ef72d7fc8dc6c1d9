"""Orders in the members table: the latest known state of each order, versioned for conditions."""

from __future__ import annotations

from decimal import Decimal

from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute

from omo2c.core.dynamo import DecimalAttribute, MembersTableItem, plain
from omo2c.orders.model import OrderRecord


class OrderItem(MembersTableItem):
    """pk=ORDER#<source>#<order_id>, sk=ORDER: the latest known state of one order."""

    source = UnicodeAttribute()
    order_id = UnicodeAttribute()
    member_id = UnicodeAttribute(null=True)
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
    return item
