"""A member's tags are a set, on the resolver's fast path as on its exact path."""

from __future__ import annotations

import itertools

from omo2c.core.settings import Settings
from omo2c.identity.identifiers import BlockList
from omo2c.members.resolution import Policy, Resolver
from omo2c.sources.canonical import CanonicalEvent
from tests.support.events import pos_order
from tests.support.memory_store import MemoryMemberStore


def tagged(event_id: str, *tags: str, day: int) -> CanonicalEvent:
    raw = pos_order(event_id, phone="0955-700-800", order_id=f"O-{event_id}",
                    occurred_at=f"2026-11-{day:02d}T10:00:00+08:00")
    raw["customer"]["tags"] = list(tags)
    return CanonicalEvent.model_validate({**raw, "source": "pos"})


def test_tags_of_a_known_member_never_repeat():
    store = MemoryMemberStore()
    counter = itertools.count()
    resolver = Resolver(store, Policy(BlockList(Settings().blocked_identifiers)),
                        new_id=lambda: f"m{next(counter)}", sleep=lambda _: None)
    for day in range(3):
        resolver.record(tagged(f"e{day}", "vip", f"t{day}", "vip", day=day + 1))
    resolver.record(tagged("late", "vip", "t9", day=1))  # older than the member's last event: the exact path
    (member,) = store.members_by_id.values()
    assert sorted(member.tags) == ["t0", "t1", "t2", "t9", "vip"] and len(member.tags) == 5
