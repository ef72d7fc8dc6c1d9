"""Each ledger entry is announced as ``commission.recorded``; a redelivery announces the same entry again, an
older version nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from omo2c.attribution.ledger import Rates
from omo2c.attribution.rules import AttributionPolicy
from omo2c.attribution.service import CommissionService
from omo2c.events import CommissionRecorded, OrderRecorded
from omo2c.staff.model import Staff, StaffCode
from tests.support.ledger import Lookups, MemoryLedger

T0 = datetime(2026, 11, 30, 20, tzinfo=UTC)


def version(n: int, net: int, status: str = "open") -> OrderRecorded:
    return OrderRecorded(source="ec", order_id="E-1", channel="ec", status=status, version=f"{n:08d}",
                         event_id=f"e{n}", event_type="order.updated", member_id="m1", store_id="ST01",
                         staff_id="S001", referral_code="S001CODE", placed_at=int(T0.timestamp() * 1000), total=net,
                         net=net, net_kept=net, occurred_at=T0)


def test_every_entry_is_announced_once_per_version_and_again_on_a_redelivery():
    published: list = []
    now = [T0]
    lookups = Lookups([Staff("S001", "Amy", "ST01")], [StaffCode("S001CODE", "S001", "active", T0)])
    service = CommissionService(MemoryLedger(), lookups, Rates.from_config({"channels": {"ec": "0.05"}}),
                                AttributionPolicy(), 7, clock=lambda: now[0], publish=published.extend)
    service.record(version(1, 1000))
    (sale,) = published
    assert isinstance(sale, CommissionRecorded)
    assert (sale.seq, sale.kind, sale.channel, sale.base, sale.month, sale.staff_id) == (
        1, "sale", "ec", Decimal(1000), "2026-11", "S001")
    now[0] = T0 + timedelta(days=2)
    service.record(version(2, 400))
    refund = published[-1]
    assert (refund.seq, refund.kind, refund.base, refund.month) == (2, "refund", Decimal(-600), "2026-12")
    count = len(published)
    service.record(version(2, 400))
    assert published[count:] == [refund], "the same entry again, never another one"
    service.record(version(1, 1000))
    assert len(published) == count + 1, "an older version announces nothing"
