"""Order versions compare as numbers, whatever their length (Shopify's are epoch milliseconds)."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from omo2c.core.settings import Settings
from omo2c.identity.identifiers import BlockList
from omo2c.members.resolution import Policy, Resolver
from omo2c.orders.model import OrderRecord, apply_snapshot, order_rank, rank_key
from omo2c.sources.canonical import CanonicalEvent
from tests.support.events import pos_order
from tests.support.memory_store import MemoryMemberStore

OLD, NEW = 9 * 10**11, 10**12  # 900000000000 sorts after 1000000000000 as text


def snapshot(event_id: str, version: int, total: int, occurred_at: str) -> CanonicalEvent:
    raw = pos_order(event_id, order_id="SH-1", total=total, occurred_at=occurred_at, type_="order.updated",
                    version=version)
    return CanonicalEvent.model_validate({**raw, "source": "shopify", "channel": "ec"})


@pytest.mark.parametrize("newest_first", [False, True])
def test_the_higher_version_wins_in_either_delivery_order(newest_first):
    store = MemoryMemberStore()
    counter = itertools.count()
    resolver = Resolver(store, Policy(BlockList(Settings().blocked_identifiers)),
                        new_id=lambda: f"m{next(counter)}", sleep=lambda _: None)
    # The newer version carries the earlier event time: only the version may decide.
    older = snapshot("e-old", OLD, 500, "2026-11-22T12:00:00+08:00")
    newer = snapshot("e-new", NEW, 800, "2026-11-22T11:00:00+08:00")
    for event in ([newer, older] if newest_first else [older, newer]):
        resolver.record(event)
    order = store.orders[("shopify", "SH-1")]
    assert order.total == Decimal(800)
    assert rank_key(order.rank)[0] == NEW


def test_ranks_stay_readable_and_old_stored_ranks_still_compare():
    assert order_rank(NEW, 5) == f"{NEW:020d}.{5:015d}"
    legacy = f"{OLD:012d}.{1:015d}"  # the 12-digit form stored before
    assert rank_key(legacy) < rank_key(order_rank(NEW, 0)) and rank_key("") < rank_key(order_rank(0, 0))
    stored = OrderRecord("shopify", "1", "m1", "ec", total=Decimal(500), status="open", rank=legacy)
    kept = apply_snapshot(stored, rank=order_rank(OLD - 1, 9), occurred_ms=9, total=Decimal(1), discount=Decimal(0),
                          shipping=Decimal(0), items=[], store_id=None, staff_id=None, referral_code=None,
                          currency="TWD", member_id="m1")
    assert kept.total == Decimal(500)
    replaced = apply_snapshot(stored, rank=order_rank(NEW, 0), occurred_ms=0, total=Decimal(800),
                              discount=Decimal(0), shipping=Decimal(0), items=[], store_id=None, staff_id=None,
                              referral_code=None, currency="TWD", member_id="m1")
    assert replaced.total == Decimal(800)
