"""Stored shapes of the members table (one table, several item types keyed by pk/sk)."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from pynamodb.attributes import (
    Attribute,
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
)
from pynamodb.constants import NUMBER
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from omo2c.core.settings import Settings


class DecimalAttribute(Attribute[Decimal]):
    """Money stays Decimal end to end (pynamodb's NumberAttribute would go through float)."""

    attr_type = NUMBER

    def serialize(self, value: Decimal) -> str:
        return str(Decimal(value))

    def deserialize(self, value: str) -> Decimal:
        return Decimal(value)


class _MembersTable(Model):
    class Meta:
        table_name = "omo2c-members"
        region = "ap-northeast-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class ByBoundStaff(GlobalSecondaryIndex["MemberItem"]):
    """Members bound to a staff member, newest binding last."""

    class Meta:
        index_name = "ByBoundStaff"
        projection = AllProjection()

    bound_staff_id = UnicodeAttribute(hash_key=True)
    bound_at = UnicodeAttribute(range_key=True)


class ByLastOrderDay(GlobalSecondaryIndex["MemberItem"]):
    """Live members with orders, per activity shard, by the day of their last order."""

    class Meta:
        index_name = "ByLastOrderDay"
        projection = AllProjection()

    activity_shard = UnicodeAttribute(hash_key=True)
    last_order_day = UnicodeAttribute(range_key=True)


class MemberItem(_MembersTable):
    """pk=MEMBER#<id>, sk=PROFILE. The bind function owns ``line``/``binding``/``bound_*``."""

    member_id = UnicodeAttribute()
    created_at = NumberAttribute()
    status = UnicodeAttribute(default="live")
    merged_into = UnicodeAttribute(null=True)
    identifiers = ListAttribute(of=UnicodeAttribute, default=list)
    profile = MapAttribute(default=dict)
    consent = MapAttribute(default=dict)
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    first_order_at = NumberAttribute(null=True)
    last_order_at = NumberAttribute(null=True)
    last_order_day = UnicodeAttribute(null=True)
    activity_shard = UnicodeAttribute(null=True)
    order_count = NumberAttribute(default=0)
    net_spent = DecimalAttribute(default=lambda: Decimal(0))
    absorbed = ListAttribute(of=UnicodeAttribute, default=list)
    last_event_at = NumberAttribute(default=0)
    version = NumberAttribute(default=0)
    line = MapAttribute(null=True)
    binding = MapAttribute(null=True)
    bound_staff_id = UnicodeAttribute(null=True)
    bound_store_id = UnicodeAttribute(null=True)
    bound_at = UnicodeAttribute(null=True)
    opted_out = BooleanAttribute(null=True)
    by_bound_staff = ByBoundStaff()
    by_last_order_day = ByLastOrderDay()


class IdentityItem(_MembersTable):
    """pk=IDENT#<kind>#<value>, sk=IDENT: the one live member an identifier belongs to."""

    member_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    created_at = NumberAttribute()
    flagged = BooleanAttribute(default=False)
    seen_members = ListAttribute(of=UnicodeAttribute, default=list)


class OrderItem(_MembersTable):
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


class EventItem(_MembersTable):
    """pk=EVENT#<source>#<event_id>, sk=EVENT: marks an event as recorded (redeliveries stop here)."""

    event_id = UnicodeAttribute()
    recorded_at = NumberAttribute()
    member_id = UnicodeAttribute(null=True)
    published = ListAttribute(default=list)
    blocked_identifiers = ListAttribute(of=UnicodeAttribute, default=list)
    expires_at = NumberAttribute(null=True)


class MergeItem(_MembersTable):
    """pk=MEMBER#<survivor>, sk=MERGE#<merge_id>: what one merge moved, so it can be undone."""

    merge_id = UnicodeAttribute()
    survivor_id = UnicodeAttribute()
    absorbed_id = UnicodeAttribute()
    at = NumberAttribute()
    event_id = UnicodeAttribute()
    reason = UnicodeAttribute()
    status = UnicodeAttribute(default="merged")
    moved_identifiers = ListAttribute(of=UnicodeAttribute, default=list)
    absorbed_before = MapAttribute(default=dict)
    survivor_before = MapAttribute(default=dict)


MEMBERS_TABLE_MODELS: tuple[type[Model], ...] = (MemberItem, IdentityItem, OrderItem, EventItem, MergeItem)


def configure(settings: Settings, models: tuple[type[Model], ...] = MEMBERS_TABLE_MODELS,
              table: str | None = None) -> None:
    """Point the models at this deployment's table, region and (locally) endpoint."""
    table_name = table or settings.members_table
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "ap-northeast-1"
    host = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL") or None
    for model in models:
        meta: Any = model.Meta
        if (meta.table_name, meta.region, getattr(meta, "host", None)) != (table_name, region, host):
            meta.table_name = table_name
            meta.region = region
            meta.host = host
            model._connection = None
