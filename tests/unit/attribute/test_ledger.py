"""Commission arithmetic and the ledger's exactness under any delivery order."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from omo2c.attribution.ledger import Rates, commission, quantize, statement_csv
from omo2c.attribution.rules import AttributionPolicy, OrderFacts
from omo2c.attribution.service import CommissionService
from omo2c.events import OrderRecorded
from omo2c.staff.model import Staff
from tests.support.ledger import Lookups, MemoryLedger

RATES = Rates.from_config({"channels": {"pos": "0.02", "ec": "0.05"}, "stores": {"ST09": {"ec": "0.1"}},
                           "categories": {"tea": "0.08"}})
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def facts(net: str, **changes) -> OrderFacts:
    base = dict(source="pos", order_id="A", channel="pos", status="open", version="1", event_type="order.created",
                member_id="m1", store_id="ST01", staff_id="S001", referral_code=None, placed_at=T0,
                net_kept=Decimal(net), currency="TWD")
    return OrderFacts(**(base | changes))


def test_rates_by_channel_store_and_category_in_decimal():
    assert commission(facts("1280"), RATES)[0] == Decimal(26)
    assert commission(facts("1000", channel="ec", store_id="ST09"), RATES)[0] == Decimal(100)
    mixed = facts("1000", items=[{"price": "500", "quantity": 1, "category": "tea"},
                                 {"price": "500", "quantity": 1, "category": "cups"}])
    assert commission(mixed, RATES)[0] == Decimal(50)
    assert quantize(Decimal("12.345"), "USD") == Decimal("12.35") and quantize(Decimal("12.5"), "TWD") == 13


def detail(version: int, net: int, status: str = "open", event_type: str = "order.updated") -> OrderRecorded:
    return OrderRecorded(source="pos", order_id="A", channel="pos", status=status, version=f"{version:08d}",
                         event_id=f"e{version}", event_type=event_type, member_id="m1", store_id="ST01",
                         staff_id="S001", placed_at=int(T0.timestamp() * 1000), total=net, net=net, net_kept=net,
                         occurred_at=T0)


VERSIONS = st.lists(st.tuples(st.integers(0, 5000), st.sampled_from(["open", "open", "cancelled"])),
                    min_size=1, max_size=8)


@settings(max_examples=80, deadline=None)
@given(VERSIONS, st.randoms(use_true_random=False), st.integers(0, 3))
def test_ledger_sum_is_the_commission_on_the_latest_net_kept_whatever_the_delivery_order(versions, rnd, dups):
    deliveries = [detail(i + 1, net, status) for i, (net, status) in enumerate(versions)]
    deliveries += [rnd.choice(deliveries) for _ in range(dups)]
    rnd.shuffle(deliveries)
    ledger = MemoryLedger()
    clock = iter(T0 + timedelta(hours=i) for i in range(100))
    service = CommissionService(ledger, Lookups([Staff("S001", "Amy", "ST01")]), RATES, AttributionPolicy(), 7,
                                clock=lambda: next(clock))
    for d in deliveries:
        service.record(d)
    latest = max(deliveries, key=lambda d: d.version)
    expected = commission(facts(str(latest.net_kept), status=latest.status), RATES)[0]
    _, entries = ledger.load("pos", "A")
    assert sum((e.amount for e in entries), Decimal(0)) == expected
    assert len({e.seq for e in entries}) == len(entries)


def test_refund_after_approval_is_a_clawback_in_the_next_statement():
    ledger = MemoryLedger()
    now = [T0]
    service = CommissionService(ledger, Lookups([Staff("S001", "Amy", "ST01")]), RATES, AttributionPolicy(), 7,
                                clock=lambda: now[0])
    service.record(detail(1, 1000, event_type="order.created"))
    now[0] = T0 + timedelta(days=31)
    service.record(detail(2, 400, event_type="order.refunded"))
    november = service.staff_statement("S001", "2026-11")
    december = service.staff_statement("S001", "2026-12")
    assert november["totals"]["approved"] == "20" and november["lines"][0]["kind"] == "sale"
    assert december["lines"][0]["kind"] == "clawback" and december["totals"]["clawbacks"] == "-12"
    assert december["lines"][0]["status"] == "pending"


def test_statement_csv_neutralises_formulas_and_keeps_numbers_numbers():
    line = {"created_at": "2026-11-02T00:00:00+00:00", "source": "+pos", "order_id": "=SUM(1,1)", "kind": "refund",
            "staff_id": "@S001", "store_id": "-2+3", "base": "-280", "amount": "-6", "currency": "TWD",
            "rule": "\tcmd", "rate": "\rcmd", "status": "pending"}
    document = {"lines": [line, line | {"amount": "-12.50", "base": "-", "order_id": "A-1=1"}],
                "totals": {"total": "-18.50"}}
    rows = list(csv.DictReader(io.StringIO(statement_csv(document), newline="")))
    first, second, total = rows
    assert (first["order_id"], first["source"], first["staff_id"], first["store_id"], first["rule"],
            first["rate"]) == ("'=SUM(1,1)", "'+pos", "'@S001", "'-2+3", "'\tcmd", "'\rcmd")
    assert (first["amount"], first["base"], second["amount"], total["amount"]) == ("-6", "-280", "-12.50", "-18.50")
    assert second["base"] == "'-" and second["order_id"] == "A-1=1", "only a leading character executes"
