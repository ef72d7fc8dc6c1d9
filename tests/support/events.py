"""Sample events from ``events/`` and helpers to sign them like a source would."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

from omo2c.sources.signatures import omo_signature

EVENTS = Path(__file__).resolve().parents[2] / "events"


def sample(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((EVENTS / name).read_text()))


def pos_order(event_id: str = "pos-1", *, phone: str | None = "0933-128-765", email: str | None = None,
              pos_member_no: str | None = None, order_id: str = "ST01-1", total: int = 1000,
              occurred_at: str = "2026-11-22T14:05:00+08:00", type_: str = "order.created",
              name: str | None = "林小美", **order_extra: Any) -> dict[str, Any]:
    event = sample("canonical/pos-order-created.json")
    event.update(event_id=event_id, occurred_at=occurred_at, type=type_)
    event["customer"] = {k: v for k, v in {"phone": phone, "email": email, "pos_member_no": pos_member_no,
                                            "name": name, "consent": {"sms": True}}.items() if v is not None}
    event["order"].update(order_id=order_id, total=total, **order_extra)
    return event


def signed_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return {"Content-Type": "application/json", "X-Omo-Timestamp": ts,
            "X-Omo-Signature": omo_signature(secret, ts, body)}


def shopify_headers(body: bytes, topic: str, webhook_id: str, secret: str) -> dict[str, str]:
    from omo2c.sources.signatures import body_signature

    return {"Content-Type": "application/json", "X-Shopify-Topic": topic, "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Hmac-Sha256": body_signature(secret, body), "X-Shopify-Shop-Domain": "jsmith.myshopify.com",
            "X-Shopify-Triggered-At": "2026-11-22T06:05:00.000000Z", "X-Shopify-API-Version": "2025-10"}


def shopify_order(phone: str | None = None, email: str | None = None, **changes: Any) -> dict[str, Any]:
    """Shopify's published orders/create sample, with the customer's contact details swapped in."""
    order = sample("shopify/orders-create.json")
    if phone is not None:
        order["phone"] = phone
    if email is not None:
        order["email"] = order["contact_email"] = email
    order.update(changes)
    return order


def line_event(kind: str, *, user_id: str, event_id: str, text: str | None = None,
               data: str | None = None, timestamp: int | None = None) -> dict[str, Any]:
    """One event shaped like LINE's published webhook examples in events/line/."""
    name = {"follow": "follow", "unfollow": "unfollow", "message": "message-text", "postback": "postback"}[kind]
    event = sample(f"line/{name}.json")["events"][0]
    event["source"]["userId"] = user_id
    event["webhookEventId"] = event_id
    event["timestamp"] = timestamp or int(time.time() * 1000)
    if text is not None:
        event["message"]["text"] = text
    if data is not None:
        event["postback"]["data"] = data
    return event


def line_body(*events: dict[str, Any]) -> bytes:
    return json.dumps({"destination": "xxxxxxxxxx", "events": list(events)}, ensure_ascii=False).encode()


def line_signature(body: bytes, secret: str) -> str:
    from omo2c.sources.signatures import body_signature

    return body_signature(secret, body)
