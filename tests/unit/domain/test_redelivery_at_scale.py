"""10,000 events, 30% of them redelivered, all shuffled: members, RFM and ledger stay exact."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from decimal import Decimal

from omo2c.attribution.ledger import Rates, commission
from omo2c.attribution.rules import AttributionPolicy, OrderFacts
from omo2c.attribution.service import CommissionService
from omo2c.core.settings import Settings
from omo2c.events import OrderRecorded
from omo2c.identity.identifiers import BlockList
from omo2c.members.resolution import Policy, Resolver
from omo2c.sources.canonical import CanonicalEvent
from omo2c.staff.model import Staff
from tests.support.events import pos_order
from tests.support.ledger import Lookups, MemoryLedger
from tests.support.memory_store import MemoryMemberStore

EVENTS = 10_000
CUSTOMERS = 700
RATES = Rates.from_config({"channels": {"pos": "0.02", "ec": "0.05"}})


def build_events(rnd: random.Random) -> list[CanonicalEvent]:
    unique = []
    for n in range(int(EVENTS * 0.7)):
        customer = rnd.randrange(CUSTOMERS)
        order = f"O{customer}-{rnd.randrange(4)}"
        kind = rnd.choices(["order.created", "order.updated", "order.refunded", "order.cancelled"], [6, 2, 2, 1])[0]
        day = 1 + n % 28
        raw = pos_order(f"e{n}", phone=f"0977{customer:06d}", order_id=order, total=rnd.randint(100, 5000),
                        type_=kind, occurred_at=f"2026-10-{day:02d}T{rnd.randrange(24):02d}:00:00+08:00")
        if kind == "order.refunded":
            raw["order"]["refunds"] = [{"refund_id": f"R{n}", "amount": rnd.randint(1, 80)}]
        unique.append(CanonicalEvent.model_validate({**raw, "source": "pos"}))
    events = unique + [rnd.choice(unique) for _ in range(EVENTS - len(unique))]
    rnd.shuffle(events)
    return events


def test_ten_thousand_shuffled_events_with_redeliveries():
    rnd = random.Random(2026)
    store = MemoryMemberStore()
    counter = itertools.count()
    resolver = Resolver(store, Policy(BlockList(Settings().blocked_identifiers)),
                        new_id=lambda: f"m{next(counter):05d}", sleep=lambda _: None)
    published = []
    for event in build_events(rnd):
        published += [e for e in resolver.record(event).events if isinstance(e, OrderRecorded)]

    members = [m for m in store.members_by_id.values() if m.live]
    phones = {o.member_id for o in store.orders.values() if o.member_id}
    assert len(members) == len(phones) <= CUSTOMERS
    by_member: dict[str, list] = defaultdict(list)
    for order in store.orders.values():
        by_member[order.member_id].append(order)
    for member in members:
        orders = by_member[member.member_id]
        assert member.rfm.order_count == sum(1 for o in orders if o.status == "open")
        assert member.rfm.net_spent == sum((o.net_kept for o in orders if o.status == "open"), Decimal(0))

    ledger = MemoryLedger()
    service = CommissionService(ledger, Lookups([Staff("S001", "Amy", "ST01")]), RATES, AttributionPolicy(), 7)
    deliveries = published + [rnd.choice(published) for _ in range(int(len(published) * 0.3))]
    rnd.shuffle(deliveries)
    for detail in deliveries:
        service.record(detail)
    for (source, order_id), order in store.orders.items():
        if order.status == "pending":
            continue
        _, entries = ledger.load(source, order_id)
        latest = max((d for d in published if d.order_id == order_id), key=lambda d: d.version)
        assert latest.net_kept == order.net_kept
        expected = commission(OrderFacts.from_event(latest), RATES)[0]
        assert sum((e.amount for e in entries), Decimal(0)) == expected
