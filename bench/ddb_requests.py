"""DynamoDB requests per business event, counted from botocore against moto."""

from __future__ import annotations

from typing import Any

from bench.counting import counting
from bench.moto_env import moto_stack


def _order(event_id: str, order_id: str, day: int, **customer: Any) -> Any:
    from omo2c.canonical import CanonicalEvent
    from tests.support.events import pos_order

    raw = pos_order(event_id, order_id=order_id, occurred_at=f"2026-10-{day:02d}T10:00:00+08:00",
                    phone=customer.pop("phone", None), **customer)
    return CanonicalEvent.model_validate({**raw, "source": "pos"})


def measure() -> dict[str, float]:
    with moto_stack():
        from omo2c import services

        resolver = services.resolver()
        assert resolver.policy.blocklist is not None  # warms the per-container cache of store phones
        results: dict[str, float] = {}
        with counting() as calls:
            resolver.record(_order("n1", "N1", 1, phone="0955-100-200"))
            results["ddb_requests.order_new_member"] = calls.total("dynamodb")
            calls.clear()
            resolver.record(_order("k1", "K1", 2, phone="0955-100-200"))
            results["ddb_requests.order_known_member"] = calls.total("dynamodb")
            resolver.record(_order("o1", "O1", 3, pos_member_no="P-9"))
            calls.clear()
            resolver.record(_order("m1", "M1", 4, phone="0955100200", pos_member_no="P-9"))
            results["ddb_requests.order_merge"] = calls.total("dynamodb")
            calls.clear()
            resolver.record(_order("m1", "M1", 4, phone="0955100200", pos_member_no="P-9"))
            results["ddb_requests.order_redelivered"] = calls.total("dynamodb")
            calls.clear()
            resolver.record(_order("late", "L1", 1, phone="0955100200"))
            results["ddb_requests.order_out_of_order"] = calls.total("dynamodb")
        return results


if __name__ == "__main__":
    for key, value in measure().items():
        print(f"{key}: {value}")
