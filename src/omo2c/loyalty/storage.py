"""Loyalty in the members table: one item per member, and the tier denormalised onto the member item.

pk=MEMBER#<id>, sk=LOYALTY holds the tier, the monthly spend, every order's lot of points, the
redemptions by order reference, the merges applied and a ``version`` that every write is conditioned
on. Each order event costs one consistent BatchGetItem (the loyalty item and the member item, which
says whether the member was merged away) and one TransactWriteItems: the loyalty item, and — when
the tier changes — ``tier``/``tier_key``/``tier_since`` on the member item, never its ``version`` or
anything else the resolver owns. The ``ByTier`` index (``tier_key`` = ``<tier>#<shard>``, by
``member_id``) lets campaigns and the review find a tier's members without a scan.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pynamodb.attributes import ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.transactions import TransactWrite

from omo2c.core.dynamo import MembersTableItem, batch_get, configure, plain
from omo2c.core.errors import Conflict
from omo2c.core.settings import Settings
from omo2c.loyalty.model import Holding, Lot, LoyaltyAccount, MemberFacts, Redemption, TierMark
from omo2c.members.storage import AUDIENCE_SHARDS, audience_shard, member_key

tier_shards = AUDIENCE_SHARDS
LOYALTY_SK = "LOYALTY"


def tier_key(tier_id: str, member_id: str) -> str:
    """The ``ByTier`` partition of a member: a tier spread over ``tier_shards`` partitions, stable per member."""
    return f"{tier_id}#{audience_shard(member_id)}"


def loyalty_key(member_id: str) -> tuple[str, str]:
    return f"MEMBER#{member_id}", LOYALTY_SK


class LoyaltyItem(MembersTableItem):
    """pk=MEMBER#<id>, sk=LOYALTY. ``lots`` and ``redemptions`` are maps by order reference."""

    member_id = UnicodeAttribute()
    tier = UnicodeAttribute(null=True)
    tier_since = UnicodeAttribute(null=True)
    spend = MapAttribute(default=dict)
    lots = MapAttribute(default=dict)
    redemptions = MapAttribute(default=dict)
    merges = ListAttribute(of=UnicodeAttribute, default=list)
    merged_into = UnicodeAttribute(null=True)
    changes = ListAttribute(default=list)
    version = NumberAttribute(default=0)
    updated_at = UnicodeAttribute(null=True)


class ByTier(GlobalSecondaryIndex["MemberTierPart"]):
    class Meta:
        index_name = "ByTier"
        projection = AllProjection()

    tier_key = UnicodeAttribute(hash_key=True)
    member_id = UnicodeAttribute(range_key=True)


class MemberTierPart(MembersTableItem):
    """The loyalty attributes of the member item (pk=MEMBER#<id>, sk=PROFILE): only ever updated, never put,
    so the member's own attributes and version stay the resolver's."""

    member_id = UnicodeAttribute(null=True)
    tier = UnicodeAttribute(null=True)
    tier_key = UnicodeAttribute(null=True)
    tier_since = UnicodeAttribute(null=True)
    by_tier = ByTier()


LOYALTY_MODELS = (LoyaltyItem, MemberTierPart)


def _iso(ms: int | None) -> str | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def _ms(text: str | None) -> int | None:
    return None if not text else int(datetime.fromisoformat(text).timestamp() * 1000)


def _lot_map(lot: Lot) -> dict[str, Any]:
    return {"version": lot.version, "net": str(lot.net), "placed_at": lot.placed_at, "rate": str(lot.rate),
            "earned": lot.earned, "credited": lot.credited, "used": lot.used, "expired": lot.expired,
            "taken": lot.taken, "short": lot.short, "available_at": lot.available_at,
            "expires_at": lot.expires_at, "changed_at": lot.changed_at}


def _lot(ref: str, raw: dict[str, Any]) -> Lot:
    return Lot(ref, str(raw["version"]), Decimal(str(raw["net"])), int(raw["placed_at"]), Decimal(str(raw["rate"])),
               int(raw["earned"]), int(raw["credited"]), int(raw["available_at"]), int(raw["expires_at"]),
               int(raw["changed_at"]), int(raw.get("used", 0)), int(raw.get("expired", 0)),
               int(raw.get("taken", 0)), int(raw.get("short", 0)))


def _redemption_map(redemption: Redemption) -> dict[str, Any]:
    return {"points": redemption.points, "allocation": [{"lot": ref, "points": n} for ref, n in redemption.allocation],
            "at": redemption.at, "via": redemption.via, "version": redemption.version}


def _redemption(ref: str, raw: dict[str, Any]) -> Redemption:
    allocation = [(str(a["lot"]), int(a["points"])) for a in raw.get("allocation") or []]
    return Redemption(ref, int(raw["points"]), allocation, int(raw["at"]), raw.get("via", "api"),
                      str(raw.get("version", "")))


def account_from_item(item: LoyaltyItem) -> LoyaltyAccount:
    return LoyaltyAccount(
        member_id=item.member_id, tier=item.tier, tier_since=_ms(item.tier_since),
        lots={ref: _lot(ref, raw) for ref, raw in (plain(item.lots) or {}).items()},
        redemptions={ref: _redemption(ref, raw) for ref, raw in (plain(item.redemptions) or {}).items()},
        merges=list(item.merges or []), merged_into=item.merged_into, changes=plain(item.changes) or [],
        version=int(item.version or 0))


def _item(account: LoyaltyAccount, zone: ZoneInfo) -> LoyaltyItem:
    return LoyaltyItem(
        *loyalty_key(account.member_id), member_id=account.member_id, tier=account.tier,
        tier_since=_iso(account.tier_since),
        spend={month: str(net) for month, net in account.spend_by_month(zone).items()},
        lots={ref: _lot_map(lot) for ref, lot in account.lots.items()},
        redemptions={ref: _redemption_map(r) for ref, r in account.redemptions.items()},
        merges=account.merges, merged_into=account.merged_into, changes=account.changes,
        version=account.version + 1, updated_at=datetime.now(tz=UTC).isoformat())


def _text(raw: dict[str, Any], name: str) -> str | None:
    value = raw.get(name) or {}
    return value.get("S")


def _member_facts(raw: dict[str, Any] | None) -> MemberFacts:
    if raw is None:
        return MemberFacts(found=False)
    return MemberFacts(found=True, status=_text(raw, "status") or "live", merged_into=_text(raw, "merged_into"),
                       tier=_text(raw, "tier"), tier_since=_ms(_text(raw, "tier_since")))


class LoyaltyStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.zone = ZoneInfo(settings.time_zone)
        configure(settings, LOYALTY_MODELS)

    def read(self, member_ids: Sequence[str]) -> dict[str, Holding]:
        """One consistent BatchGetItem: each member's loyalty item and member item."""
        keys = [k for m in member_ids for k in (loyalty_key(m), member_key(m))]
        found = batch_get(LoyaltyItem, keys)
        holdings = {}
        for member_id in dict.fromkeys(member_ids):
            raw = found.get(loyalty_key(member_id))
            account = account_from_item(LoyaltyItem.from_raw_data(raw)) if raw is not None else None
            holdings[member_id] = Holding(account, _member_facts(found.get(member_key(member_id))))
        return holdings

    def commit(self, accounts: Sequence[LoyaltyAccount], tiers: Sequence[TierMark] = ()) -> None:
        """One TransactWriteItems, conditioned on each account's version as read."""
        try:
            with TransactWrite(connection=LoyaltyItem._get_connection().connection) as tx:
                for account in accounts:
                    condition = (LoyaltyItem.pk.does_not_exist() if account.version == 0
                                 else LoyaltyItem.version == account.version)
                    tx.save(_item(account, self.zone), condition=condition)
                for mark in tiers:
                    part = MemberTierPart(*member_key(mark.member_id))
                    if mark.tier_id is None:
                        actions = [MemberTierPart.tier.remove(), MemberTierPart.tier_key.remove(),
                                   MemberTierPart.tier_since.remove()]
                    else:
                        actions = [MemberTierPart.tier.set(mark.tier_id),
                                   MemberTierPart.tier_key.set(tier_key(mark.tier_id, mark.member_id)),
                                   MemberTierPart.tier_since.set(_iso(mark.since))]
                    tx.update(part, actions=actions, condition=MemberTierPart.pk.exists())
        except TransactWriteError as exc:
            raise Conflict("the member's loyalty changed concurrently") from exc

    def tier_members(self, tier_id: str) -> Iterator[str]:
        """Members whose member item shows ``tier_id``, shard by shard, from the ``ByTier`` index."""
        for raw in tier_index(tier_id):
            yield str(raw["member_id"]["S"])


def tier_index(tier_id: str) -> Iterator[dict[str, Any]]:
    """Every member item of a tier as stored (the index projects ALL), shard by shard: the review reads their
    ids, campaigns the whole members. Configure :data:`MemberTierPart` first (``LoyaltyStore`` or ``TagStore``)."""
    connection = MemberTierPart._get_connection()
    for shard in range(tier_shards):
        start = None
        while True:
            page = connection.query(f"{tier_id}#{shard}", index_name=ByTier.Meta.index_name,
                                    exclusive_start_key=start)
            yield from page.get("Items", [])
            start = page.get("LastEvaluatedKey")
            if not start:
                break
