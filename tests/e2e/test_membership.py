"""The membership program end to end through the local run: member card in LINE → POS order with the code →
points pending → tier upgrade → the tier's welcome coupon in LINE → the coupon redeemed once."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

import pytest

from infra.journey import Journey

pytestmark = pytest.mark.e2e


def test_member_card_order_points_tier_coupon(local_stack):
    admin = local_stack.admin
    template = {"template_id": "silver-welcome", "name": "銀卡升級禮", "kind": "amount", "value": 200,
                "min_spend": 500, "valid_days": 30}
    created = local_stack.post("/coupon-templates", json=template, headers=admin)
    assert created.status_code in (201, 409), created.text
    journey = Journey(local_stack.url, local_stack.admin_token, say=lambda _: None)
    user = "U" + uuid.uuid4().hex
    journey.line(user, kind="follow")
    journey.line(user, "會員卡")

    def card():
        replies = [m for c in local_stack.get("/_local/outbox").json()["line"] if c["endpoint"] == "reply"
                   for m in c["messages"] if m.get("type") == "flex" and "/member-card/" in json.dumps(m)]
        return replies[-1] if replies else None

    flex = local_stack.wait_for(card)
    code = re.search(r"/member-card/(\d{18})", json.dumps(flex)).group(1)
    image = local_stack.get(f"/member-card/{code}")
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"

    forged = code[:-1] + str((int(code[-1]) + 1) % 10)
    order = json.loads((journey_events() / "pos-order-created.json").read_text())
    order.update(event_id=f"card-{uuid.uuid4().hex[:8]}", occurred_at=datetime.now(tz=UTC).isoformat())
    order["customer"] = {"member_code": forged}
    order["order"] = {"order_id": f"ST01-{uuid.uuid4().hex[:6]}", "currency": "TWD", "total": 12000,
                      "items": [{"sku": "COAT-1", "name": "羊毛大衣", "quantity": 1, "price": 12000}]}
    refused = journey.post_signed("pos", order)
    assert refused.status_code == 422 and "customer.member_code" in refused.text
    order["customer"] = {"member_code": code}
    assert journey.post_signed("pos", order).status_code == 202

    def member():
        found = local_stack.get("/members", params={"line_user_id": user}, headers=admin)
        body = found.json() if found.status_code == 200 else {}
        return body if body.get("orders", {}).get("count") == 1 and body.get("tier") else None

    viewed = local_stack.wait_for(member)
    assert viewed["tier"]["id"] == "silver" and viewed["tier"]["next_tier"]["id"] == "gold"
    points = local_stack.get(f"/members/{viewed['member_id']}/points", headers=admin).json()
    assert points["balance"]["pending"] == 120 and points["balance"]["available"] == 0, points

    def tier_welcome():
        texts = [m.get("text", "") for c in local_stack.get("/_local/outbox").json()["line"]
                 if c["endpoint"] in ("push", "multicast") and (c["to"] == user or user in (c["to"] or []))
                 for m in c["messages"]]
        return next((t for t in texts if "銀卡" in t and re.search(r"[A-Z0-9]{10}", t)), None)

    welcome = local_stack.wait_for(tier_welcome, timeout=40)
    coupon = re.search(r"[A-Z0-9]{10}", welcome).group(0)
    wallet = local_stack.get(f"/members/{viewed['member_id']}/coupons", headers=admin).json()
    assert wallet and coupon in json.dumps(wallet)
    redeem = {"order_ref": "pos#ST01-next-visit", "store_id": "ST01", "order_total": 800}
    first = local_stack.post(f"/coupons/{coupon}/redeem", json=redeem, headers=admin)
    again = local_stack.post(f"/coupons/{coupon}/redeem", json=redeem, headers=admin)
    other = local_stack.post(f"/coupons/{coupon}/redeem", json={**redeem, "order_ref": "pos#another"}, headers=admin)
    assert (first.status_code, again.status_code, other.status_code) == (200, 200, 409), (first.text, other.text)


def journey_events():
    from infra.journey import EVENTS

    return EVENTS / "canonical"
