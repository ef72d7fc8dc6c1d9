"""A member's home store: the active binding's store, else the store of the first POS order (by time)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from omo2c.binding.model import Binding, BindingPolicy, active
from omo2c.campaigns.model import Segment
from omo2c.campaigns.rules import matches
from omo2c.core.settings import Settings
from omo2c.identity.identifiers import BlockList
from omo2c.members.model import FirstPosOrder, home_store
from omo2c.members.resolution import Policy, Resolver
from omo2c.sources.canonical import CanonicalEvent
from tests.support.events import pos_order
from tests.support.memory_store import MemoryMemberStore

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def resolver() -> tuple[Resolver, MemoryMemberStore]:
    store = MemoryMemberStore()
    counter = itertools.count()
    return Resolver(store, Policy(BlockList(Settings().blocked_identifiers)), new_id=lambda: f"m{next(counter)}",
                    sleep=lambda _: None), store


def sale(event_id: str, day: int, store_id: str | None, channel: str = "pos", **extra) -> CanonicalEvent:
    raw = pos_order(event_id, phone="0955-400-500", order_id=f"O-{event_id}",
                    occurred_at=f"2026-11-{day:02d}T10:00:00+08:00", **extra)
    raw.update(store_id=store_id, channel=channel)
    return CanonicalEvent.model_validate({**raw, "source": channel})


EVENTS = [sale("st02", 5, "ST02"), sale("st01", 3, "ST01"), sale("web", 1, "WEB", channel="ec"),
          sale("anon", 2, None), sale("st03-refund", 1, "ST03", type_="order.refunded",
                                       refunds=[{"refund_id": "R", "amount": 1}])]


@pytest.mark.parametrize("order", list(itertools.permutations(range(len(EVENTS))))[::7])
def test_the_first_pos_order_by_time_decides_in_any_delivery_order(order):
    r, store = resolver()
    for i in order:
        r.record(EVENTS[i])
    (member,) = store.members_by_id.values()
    first = FirstPosOrder(int(datetime(2026, 11, 3, 2, tzinfo=UTC).timestamp() * 1000), "ST01")
    assert member.first_pos_order == first


def test_a_merge_keeps_the_earlier_first_pos_order():
    r, store = resolver()
    r.record(sale("a", 9, "ST09"))
    r.record(CanonicalEvent.model_validate({**pos_order("b", phone=None, pos_member_no="P1", order_id="B",
                                                        occurred_at="2026-11-04T10:00:00+08:00"),
                                            "store_id": "ST04", "source": "pos"}))
    r.record(CanonicalEvent.model_validate({**pos_order("link", phone="0955400500", pos_member_no="P1",
                                                        order_id="L", occurred_at="2026-11-12T10:00:00+08:00"),
                                            "store_id": "ST12", "source": "pos"}))
    (member,) = [m for m in store.members_by_id.values() if m.live]
    assert member.first_pos_order.store_id == "ST04"


def test_the_active_binding_comes_first_and_an_expired_one_falls_back():
    r, store = resolver()
    r.record(sale("st01", 3, "ST01"))
    (member,) = store.members_by_id.values()
    policy = BindingPolicy()
    assert home_store(member, active(member.binding, NOW, policy)) == "ST01"
    member.binding = Binding("S003", "ST03", NOW - timedelta(days=10))
    assert home_store(member, active(member.binding, NOW, policy)) == "ST03"
    member.binding = Binding("S003", "ST03", NOW - timedelta(days=400))
    assert home_store(member, active(member.binding, NOW, policy)) == "ST01", "an expired binding no longer counts"


def test_store_segments_reach_customers_who_never_bound_in_line():
    r, store = resolver()
    r.record(sale("st02", 3, "ST02"))
    (member,) = store.members_by_id.values()
    now = datetime(2026, 11, 10, tzinfo=UTC)
    assert home_store(member, None) == "ST02"
    assert matches(member, Segment(store_ids=["ST02"]), now)
    member.binding = Binding("S001", "ST01", now - timedelta(days=1))
    assert not matches(member, Segment(store_ids=["ST02"]), now)
    assert matches(member, Segment(store_ids=["ST01"]), now, binding_policy=BindingPolicy())
