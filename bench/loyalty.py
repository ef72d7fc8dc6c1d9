"""DynamoDB requests that points and tiers add, counted from botocore against moto.

Counted in the loyalty service as the loyalty consumer calls it (the coupons step of the same consumer is
the coupons area's figure): each order event is one consistent BatchGetItem (loyalty item + member item)
and one TransactWriteItems (the loyalty item, plus the member item's tier when it changes); a redelivered
or older state stops after the read. A redemption is the same read and write; the review costs one Query
per tier above the base and shard (16 each), one BatchGetItem per 50 members and one transaction per member
moved down.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bench.counting import counting
from infra import moto_stack

SALE_AT = datetime(2026, 11, 22, 6, 5, tzinfo=UTC)


def _event(order_id: str, net: int, version: int = 1, **extra: Any) -> Any:
    from omo2c.events import OrderRecorded

    return OrderRecorded(event_id=f"{order_id}-{version}", event_type="order.created", member_id=extra.pop("member"),
                         source="pos", order_id=order_id, channel="pos", status=extra.pop("status", "open"),
                         total=net, net=net, net_kept=net, placed_at=int(SALE_AT.timestamp() * 1000),
                         version=f"{version:08d}", occurred_at=SALE_AT, **extra)


def measure() -> dict[str, float]:
    with moto_stack.in_process():
        from omo2c import wiring
        from omo2c.core.settings import Settings
        from omo2c.events import MemberMerged
        from omo2c.identity.identifiers import Identifier, IdentifierKind, normalize_phone
        from omo2c.sources.canonical import CanonicalEvent
        from tests.support.events import pos_order

        now = [SALE_AT + timedelta(hours=1)]
        services = wiring.Services(Settings.from_env(), clock=lambda: now[0])
        members = []
        for n, phone in enumerate(("0955-100-201", "0955-100-202")):
            raw = pos_order(f"b-{n}", phone=phone, order_id=f"B-{n}", total=100)
            services.resolver.record(CanonicalEvent.model_validate({**raw, "source": "pos"}))
            members.append(services.members.find_by_identifier(
                Identifier(IdentifierKind.PHONE, normalize_phone(phone, "TW"))).member_id)
        member, other = members
        loyalty = services.loyalty
        results: dict[str, float] = {}
        with counting() as calls:
            steps = [
                ("order_loyalty_first", lambda: loyalty.record(_event("L-1", 1280, member=member))),
                ("order_loyalty", lambda: loyalty.record(_event("L-2", 2000, member=member))),
                ("order_loyalty_upgrade", lambda: loyalty.record(_event("L-3", 9000, member=member))),
                ("order_loyalty_refund", lambda: loyalty.record(_event("L-3", 4000, 2, member=member))),
                ("order_loyalty_redelivered", lambda: loyalty.record(_event("L-3", 4000, 2, member=member))),
            ]
            for name, run in steps:
                calls.clear()
                run()
                results[f"ddb_requests.{name}"] = calls.total("dynamodb")
                results[f"ddb_wcu.{name}"] = calls.write_units
            now[0] = SALE_AT + timedelta(days=8)
            calls.clear()
            loyalty.redeem(member, 50, "ec#EC-1")
            results["ddb_requests.points_redeem"] = calls.total("dynamodb")
            calls.clear()
            loyalty.redeem(member, 50, "ec#EC-1")
            results["ddb_requests.points_redeem_repeated"] = calls.total("dynamodb")
            loyalty.record(_event("O-1", 500, member=other))
            calls.clear()
            loyalty.merge(MemberMerged(survivor_id=member, absorbed_id=other, merge_id="bench-merge", event_id="m",
                                       occurred_at=SALE_AT))
            results["ddb_requests.loyalty_merge"] = calls.total("dynamodb")
            now[0] = SALE_AT + timedelta(days=400)
            calls.clear()
            loyalty.review(now[0])
            results["ddb_requests.tier_review_one_member_moved"] = calls.total("dynamodb")
        return results


if __name__ == "__main__":
    for key, value in measure().items():
        print(f"{key}: {value}")
