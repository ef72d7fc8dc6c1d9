"""DynamoDB requests of the store and staff dashboards, counted from botocore against moto.

Reads: one dashboard (the store's or staff member's record, the scope's totals, six month items) is one
BatchGetItem, whatever the number of members. Measured with the rollups of 10k and 100k members seeded
directly through the storage (BatchWriteItem) — the counters those members' states contribute, computed with the model
(20 stores, 200 staff, two years of orders), no events — so the items read grow with months and buckets,
never with members.

Writes: the consumer reads a batch's state items in one consistent BatchGetItem and writes the batch in one
TransactWriteItems. Per order: a batch of ten orders of ten known members, / 10; the same batch redelivered
(read only); a batch of one (the worst case: a queue delivering one message at a time).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench.counting import counting
from infra import moto_stack

MONTH = "2026-11"
SALE_AT = datetime(2026, 11, 22, 6, 5, tzinfo=UTC)
STORES, STAFF = 20, 200


def _seed(store: Any, members: int) -> int:
    """The counters of ``members`` synthetic members, written over the rollup items."""
    from omo2c.dashboards.model import MemberState, combine, member_contributions, shift

    rnd = random.Random(members)
    months = [shift(MONTH, -n) for n in range(24)]
    figures: dict = {}
    for n in range(members):
        state = MemberState(f"m{n}", joined=rnd.choice(months), created_at=0, created_store=f"S{n % STORES:02d}")
        if n % 3:
            state.bound = (1, f"P{n % STAFF:03d}")
        for month in rnd.sample(months, rnd.choice([0, 1, 1, 2, 3, 5])):
            channel = rnd.choice(["pos", "pos", "ec"])
            state.orders[month] = {channel: 1}
            state.spend[month] = {"TWD": Decimal(rnd.randint(100, 40_000))}
        state.settle()
        combine(figures, member_contributions(state))
    for s in range(STORES):
        for month in months:
            figures.setdefault((f"store:S{s:02d}", month), {})["pos_orders"] = Decimal(members // STORES)
    return store.put_rollups(figures)


def _order(n: int, version: int = 1) -> Any:
    from omo2c.events import OrderRecorded

    net = 1000 + 10 * n
    return OrderRecorded(event_id=f"b-{n}-{version}", event_type="order.created", member_id=f"bench-m{n}",
                         source="pos", order_id=f"B-{n}-{version}", channel="pos", store_id="S01",
                         staff_id=f"P{n % 3:03d}", total=net, net=net, net_kept=net, status="open",
                         placed_at=int(SALE_AT.timestamp() * 1000), version="00000001", occurred_at=SALE_AT)


def measure() -> dict[str, float]:
    with moto_stack.in_process():
        from omo2c import wiring
        from omo2c.access.model import ADMIN
        from omo2c.core.settings import Settings
        from omo2c.events import MemberCreated

        services = wiring.Services(Settings.from_env(), clock=lambda: SALE_AT + timedelta(days=3))
        services.staff_directory.put_store("S01", "信義店", None)
        services.staff_directory.put_staff("P001", "王小明", "S01", "active")
        dashboards = services.dashboards
        results: dict[str, float] = {}
        for label, members in (("10k", 10_000), ("100k", 100_000)):
            results[f"dashboard_seeded_items.{label}"] = _seed(dashboards.store, members)
            with counting() as calls:
                document = dashboards.store_kpis("S01", MONTH, ADMIN)
            assert document["members"]["total"] > 0
            results[f"dashboard_read_requests.{label}"] = calls.total()
            results[f"dashboard_read_items.{label}"] = calls.items_read
            calls.clear()
            with counting() as calls:
                dashboards.staff_kpis("P001", MONTH, ADMIN)
            results[f"dashboard_read_requests.staff_{label}"] = calls.total()

        known = [(f"c{n}", MemberCreated(member_id=f"bench-m{n}", event_id=f"c{n}", channel="pos", store_id="S01",
                                         occurred_at=SALE_AT)) for n in range(10)]
        dashboards.record(known)
        batch = [(f"o{n}", _order(n)) for n in range(10)]
        with counting() as calls:
            dashboards.record(batch)
        results["dashboard_write_requests_per_order.batch_of_10"] = calls.total("dynamodb") / 10
        results["dashboard_write_units_per_order.batch_of_10"] = calls.write_units / 10
        calls.clear()
        with counting() as calls:
            dashboards.record(batch)
        results["dashboard_write_requests_per_order.redelivered_batch"] = calls.total("dynamodb") / 10
        with counting() as calls:
            dashboards.record([("one", _order(11))])
        results["dashboard_write_requests_per_order.batch_of_1"] = calls.total("dynamodb")
        return results


if __name__ == "__main__":
    for key, value in measure().items():
        print(f"{key}: {value}")
