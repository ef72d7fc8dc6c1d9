"""What a staff member's replies look like in LINE: a text or a product card in their own name."""

from __future__ import annotations

import hashlib
import uuid
from decimal import Decimal, InvalidOperation
from statistics import median
from typing import Any

from omo2c.core.errors import InvalidEvent

SENDER_NAME_LIMIT = 20  # the Messaging API's limit on sender.name
ALT_TEXT_LIMIT = 400


def sender(staff_name: str, brand: str) -> dict[str, str]:
    """The Messaging API's ``sender``: the chat shows the staff member's name instead of the Official Account's."""
    name = staff_name.strip() or brand
    return {"name": name[:SENDER_NAME_LIMIT]}


def reply_id(staff_id: str, member_id: str, idempotency_key: str | None) -> str:
    """The same request (same Idempotency-Key) is the same message; without a key every request is new."""
    if not idempotency_key:
        return uuid.uuid4().hex
    return hashlib.sha256(f"{staff_id}|{member_id}|{idempotency_key}".encode()).hexdigest()[:32]


def retry_key(message_id: str) -> str:
    """LINE's X-Line-Retry-Key is a UUID: one per message, so a retried push is delivered once."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"omo2c:reply:{message_id}"))


def price_text(price: Any) -> str:
    try:
        value = Decimal(str(price))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidEvent("price must be a number", [{"field": "product.price", "problem": "not a number"}]) from exc
    if not value.is_finite() or value < 0:
        raise InvalidEvent("price must be a number", [{"field": "product.price", "problem": "not a price"}])
    return f"NT${value:,.0f}" if value == value.to_integral_value() else f"NT${value:,.2f}"


def text_message(text: str, who: dict[str, str]) -> dict[str, Any]:
    return {"type": "text", "text": text, "sender": who}


def product_card(product: dict[str, Any], short_url: str, who: dict[str, str]) -> dict[str, Any]:
    """A Flex bubble whose image and button open the staff member's share link, never the bare product URL."""
    title, price = str(product["title"]), price_text(product["price"])
    body: dict[str, Any] = {"type": "box", "layout": "vertical", "spacing": "sm", "contents": [
        {"type": "text", "text": title, "weight": "bold", "size": "md", "wrap": True},
        {"type": "text", "text": price, "size": "sm", "color": "#555555"}]}
    bubble: dict[str, Any] = {"type": "bubble", "body": body, "footer": {
        "type": "box", "layout": "vertical", "contents": [
            {"type": "button", "style": "primary", "color": "#06C755",
             "action": {"type": "uri", "label": "查看商品", "uri": short_url}}]}}
    if product.get("image_url"):
        bubble["hero"] = {"type": "image", "url": product["image_url"], "size": "full", "aspectRatio": "20:13",
                          "aspectMode": "cover", "action": {"type": "uri", "uri": short_url}}
    return {"type": "flex", "altText": f"{title} {price}"[:ALT_TEXT_LIMIT], "contents": bubble, "sender": who}


def median_seconds(samples: list[int]) -> int | None:
    return int(median(samples)) if samples else None
