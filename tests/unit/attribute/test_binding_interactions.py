"""Buying keeps a binding alive: an order credited through it, or a POS sale by the bound staff member."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from omo2c.attribution.ledger import Rates
from omo2c.attribution.lookups import CreditLookups
from omo2c.attribution.rules import AttributionPolicy
from omo2c.attribution.service import CommissionService
from omo2c.binding.model import Binding
from omo2c.core.errors import Conflict
from omo2c.core.settings import Settings
from omo2c.events import OrderRecorded
from omo2c.identity.identifiers import BlockList
from omo2c.members.resolution import Policy, Resolver
from omo2c.sources.canonical import CanonicalEvent
from omo2c.staff.model import Staff
from tests.support.events import pos_order
from tests.support.ledger import Lookups, MemoryLedger
from tests.support.memory_store import MemoryMemberStore

LINE_MESSAGE = datetime(2026, 1, 1, tzinfo=UTC)


class World:
    def __init__(self) -> None:
        self.store = MemoryMemberStore()
        counter = itertools.count()
        self.resolver = Resolver(self.store, Policy(BlockList(Settings().blocked_identifiers)),
                                 new_id=lambda: f"m{next(counter)}", sleep=lambda _: None)
        lookups = CreditLookups(Lookups([Staff("S001", "Amy", "ST01"), Staff("S002", "Ben", "ST01")]), self.store)
        self.service = CommissionService(MemoryLedger(), lookups, Rates.from_config({"channels": {"pos": "0.02",
                                                                                                  "ec": "0.05"}}),
                                         AttributionPolicy(), 7, interactions=self.store)
        first = self.order("first", "2025-12-20", channel="pos", staff_id="S002")
        self.member_id = first.member_id
        self.store.members_by_id[self.member_id].binding = Binding("S001", "ST01", LINE_MESSAGE, "qr", "t",
                                                                   LINE_MESSAGE)

    def order(self, event_id: str, day: str, *, channel: str, staff_id: str | None = None) -> OrderRecorded:
        raw = pos_order(event_id, phone="0955-600-700", order_id=f"O-{event_id}", occurred_at=f"{day}T10:00:00Z")
        raw.update(channel=channel, staff_id=staff_id, store_id="ST01" if channel == "pos" else None)
        outcome = self.resolver.record(CanonicalEvent.model_validate({**raw, "source": channel}))
        (recorded,) = [e for e in outcome.events if isinstance(e, OrderRecorded)]
        return recorded

    def last_interaction(self) -> datetime:
        return self.store.get_member(self.member_id).binding.last_interaction_at


def test_a_loyal_buyer_stays_bound_and_an_older_order_never_moves_it_back():
    world = World()
    pos_sale = world.order("pos", "2026-05-01", channel="pos", staff_id="S001")
    world.service.record(pos_sale)
    assert world.last_interaction() == datetime(2026, 5, 1, 10, tzinfo=UTC)

    # 243 days after the last LINE message, 123 after the sale: still bound, and credited to S001.
    ec = world.order("ec", "2026-09-01", channel="ec")
    world.service.record(ec)
    assert world.service.explain("ec", "O-ec")["rule"] == "active_binding"
    assert world.last_interaction() == datetime(2026, 9, 1, 10, tzinfo=UTC)

    world.service.record(world.order("older", "2026-03-01", channel="pos", staff_id="S001"))
    world.service.record(ec)
    assert world.last_interaction() == datetime(2026, 9, 1, 10, tzinfo=UTC)


def test_a_sale_by_someone_else_or_an_unattributed_order_is_no_interaction():
    world = World()
    world.service.record(world.order("ben", "2026-05-01", channel="pos", staff_id="S002"))
    world.service.record(world.order("late-ec", "2026-09-01", channel="ec"))
    assert world.service.explain("ec", "O-late-ec")["rule"] == "unattributed"
    assert world.last_interaction() == LINE_MESSAGE


def test_a_concurrent_member_write_is_retried_on_a_fresh_read():
    world = World()
    sale = world.order("pos", "2026-05-01", channel="pos", staff_id="S001")
    original = world.store.touch
    lost = [True]

    def racing(member, at):
        if lost.pop() if lost else False:
            world.store.members_by_id[member.member_id].version += 1  # someone else wrote first
        return original(member, at)

    world.store.touch = racing
    world.service.record(sale)
    assert world.last_interaction() == datetime(2026, 5, 1, 10, tzinfo=UTC)


def test_the_touch_is_conditioned_on_the_member_version():
    world = World()
    member = world.store.get_member(world.member_id)
    world.store.members_by_id[world.member_id].version += 1
    with pytest.raises(Conflict):
        world.store.touch(member, datetime(2026, 5, 1, tzinfo=UTC))
