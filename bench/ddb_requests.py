"""DynamoDB requests per business event, counted from botocore against moto.

Counted in a warm container, as Lambda serves most events: the store list (the stores' phones
for the block list, their names for replies) is cached for a minute and read once before.
The LINE figures count the domain's requests; the webhook's Powertools idempotency record
adds one conditional put and one update per LINE event on top. A staff reply is counted in the
workspace service (the authorizer's two reads of the staff link and record come on top).
"""

from __future__ import annotations

from typing import Any

from bench.counting import counting
from infra import moto_stack


def _order(event_id: str, order_id: str, day: int, **customer: Any) -> Any:
    from omo2c.sources.canonical import CanonicalEvent
    from tests.support.events import pos_order

    raw = pos_order(event_id, order_id=order_id, occurred_at=f"2026-10-{day:02d}T10:00:00+08:00",
                    phone=customer.pop("phone", None), **customer)
    return CanonicalEvent.model_validate({**raw, "source": "pos"})


def measure() -> dict[str, float]:
    with moto_stack.in_process():
        from omo2c import wiring
        from omo2c.core.settings import Settings

        services = wiring.Services(Settings.from_env())
        resolver = services.resolver
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
            calls.clear()
            resolver.record(_order("k2", "K2", 5, phone="0955-100-200"))
            results["ddb_wcu.order_known_member"] = calls.write_units
            results["ddb_rcu.order_known_member"] = calls.read_units
        results.update(_attribution(services))
        results.update(_line(services))
        return results


def _attribution(services: Any) -> dict[str, float]:
    from omo2c.events import OrderRecorded

    order = OrderRecorded(source="pos", order_id="A-1", channel="pos", status="open", version="00000001",
                          event_id="a-1", event_type="order.created", store_id="ST01", staff_id="S001",
                          placed_at=1795327500000, total=1280, net=1280, net_kept=1280,
                          occurred_at="2026-11-22T14:05:00+08:00")
    with counting() as calls:
        services.commission_service.record(order)
    return {"ddb_requests.attribution": calls.total("dynamodb"), "ddb_wcu.attribution": calls.write_units,
            "ddb_rcu.attribution": calls.read_units}


def _line(services: Any) -> dict[str, float]:
    """A first follow, then the QR binding message, then a binding message to someone else in the cooldown."""
    from omo2c import wiring
    from omo2c.binding.model import prefilled_message
    from tests.support.events import line_event
    from tests.support.fakes import FakeMessenger, FakeSms

    line = wiring.Services(services.settings, messenger=FakeMessenger(), sms=FakeSms())
    line.staff_directory.put_store("ST01", "信義店", None)
    staff, _ = line.staff_directory.put_staff("S001", "王小明", "ST01", "active")
    other, _ = line.staff_directory.put_staff("S002", "陳大文", "ST01", "active")
    conversation = line.line_conversation
    conversation.directory.stores()
    user = "U" + "d" * 32
    results: dict[str, float] = {}
    with counting() as calls:
        conversation.handle(line_event("follow", user_id=user, event_id="bench-follow"))
        results["ddb_requests.line_follow"] = calls.total("dynamodb")
        calls.clear()
        conversation.handle(line_event("message", user_id=user, event_id="bench-bind",
                                       text=prefilled_message(staff.name, str(staff.code))))
        results["ddb_requests.line_binding"] = calls.total("dynamodb")
        results["ddb_wcu.line_binding"] = calls.write_units
        calls.clear()
        conversation.handle(line_event("message", user_id=user, event_id="bench-kept",
                                       text=prefilled_message(other.name, str(other.code))))
        results["ddb_requests.line_binding_kept"] = calls.total("dynamodb")
    results.update(_conversation(line, user, staff))
    return results


def _conversation(line: Any, user: str, staff: Any) -> dict[str, float]:
    """The bound customer writes twice (the staff member is told once), then the staff member answers
    with a text and with a product card, as the console sends them."""
    from datetime import UTC, datetime, timedelta

    from omo2c.access.model import Principal, Role
    from tests.support.events import line_event

    directory, now = line.staff_directory, datetime.now(tz=UTC)
    directory.put_link_code(staff.staff_id, "benchlinkcode", int((now + timedelta(hours=1)).timestamp()))
    directory.link_line(staff, "U" + "e" * 32, "benchlinkcode", int(now.timestamp()))
    conversation, workspace = line.line_conversation, line.workspace
    me = Principal(Role.STAFF, staff.staff_id, staff.store_id)
    member_id = line.members.bound_to(staff.staff_id)[0].member_id
    results: dict[str, float] = {}
    with counting() as calls:
        for n, key in ((1, "customer_message_staff_told"), (2, "customer_message")):
            event = line_event("message", user_id=user, event_id=f"bench-chat-{n}", text=f"請問有貨嗎？{n}")
            event["message"]["id"] = f"bench-chat-{n}"
            calls.clear()
            assert conversation.handle(event, "https://api.example.com") == "message kept"
            results[f"ddb_requests.{key}"] = calls.total("dynamodb")
        calls.clear()
        workspace.reply(me, member_id, "有的，幫您保留！", None, "bench-reply", "https://api.example.com")
        results["ddb_requests.staff_reply"] = calls.total("dynamodb")
        calls.clear()
        workspace.reply(me, member_id, None, {"url": "https://shop.example.com/p/1", "title": "圍巾", "price": "1280"},
                        "bench-card", "https://api.example.com")
        results["ddb_requests.staff_reply_product"] = calls.total("dynamodb")
        calls.clear()
        workspace.reply(me, member_id, "有的，幫您保留！", None, "bench-reply", "https://api.example.com")
        results["ddb_requests.staff_reply_retried"] = calls.total("dynamodb")
    return results


if __name__ == "__main__":
    for key, value in measure().items():
        print(f"{key}: {value}")
