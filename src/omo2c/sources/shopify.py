"""Shopify webhooks: Shopify's own signature and JSON, mapped into canonical events.

* Signature: ``X-Shopify-Hmac-Sha256`` is the base64 HMAC-SHA256 of the raw body.
* Identity of a delivery: ``X-Shopify-Webhook-Id``; the canonical event id is
  ``shopify:<webhook id>``, so a redelivered webhook is the same event and changes nothing.
* Amounts: ``total`` is ``total_price`` (after discounts) without tax when prices exclude tax,
  ``shipping`` is ``total_shipping_price_set``; so the canonical net (total − shipping) is the
  goods after discounts, without shipping. A refund is the sum of its refund line subtotals
  (goods only), or, for an amount-only refund, its successful refund transactions less any
  refunded shipping.
* Topic: Shopify's HMAC covers the body only, so anyone holding a body can re-send it under another
  topic. The topic only says which shape to expect (an order, a refund, a customer); a body of
  another shape is 422. Every order topic maps the same way: the payload alone says the state.
  ``cancelled_at`` makes it ``order.cancelled``; otherwise it is a snapshot (``order.created``:
  the resolver treats created and updated alike, newer versions win, and campaigns count a
  conversion once per order). The refunds it carries are its refund lines under their refund
  ids, so a ``refunds/create`` of the same refund applies once; a ``refunded`` or ``voided``
  financial status writes off whatever net the carried refunds leave.
* Time: the order happened at ``processed_at``, else ``created_at``; that is the canonical
  ``occurred_at``, which the resolver takes as the placed time. ``updated_at`` in epoch
  milliseconds is only the version (newer snapshots win), so a later update never moves the order.
* Referral: ``ref=`` in ``landing_site``/``referring_site``, or a ``ref``/``referral_code``
  note attribute (what a staff member's shared link carries).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import ValidationError

from omo2c.core.errors import InvalidEvent, validation_details
from omo2c.core.jsonbody import json_object
from omo2c.sources.canonical import CanonicalEvent
from omo2c.sources.signatures import verify_shopify

ORDER_TOPICS = frozenset({"orders/create", "orders/updated", "orders/paid", "orders/cancelled"})
CUSTOMER_TOPICS = frozenset({"customers/create", "customers/update"})
REFUND_TOPIC = "refunds/create"
# Each field every body of that kind carries, with the keys Shopify may send it under.
ORDER_SHAPE = {"line_items": ("line_items",), "total_price": ("total_price", "total_price_set"),
               "financial_status": ("financial_status",)}
REFUND_SHAPE = {"order_id": ("order_id",), "refund_line_items": ("refund_line_items", "transactions")}
KEPT_NOTHING = frozenset({"refunded", "voided"})
REFERRAL_ATTRIBUTES = {"ref", "referral_code", "omo_ref"}


def _money(value: Any, field: str) -> Decimal:
    if isinstance(value, dict):
        value = (value.get("shop_money") or {}).get("amount")
    if value is None or value == "":
        return Decimal(0)
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise InvalidEvent(f"{field} is not an amount", [{"field": field, "problem": "not a number"}]) from exc
    if not amount.is_finite():
        raise InvalidEvent(f"{field} is not an amount", [{"field": field, "problem": "not a finite number"}])
    return amount


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _moment(payload: Mapping[str, Any], *fields: str) -> datetime | None:
    for field in fields:
        value = payload.get(field)
        if isinstance(value, str) and value:
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                continue
            if moment.tzinfo is not None:
                return moment
    return None


def _time(payload: Mapping[str, Any], *fields: str) -> datetime:
    moment = _moment(payload, *fields)
    if moment is not None:
        return moment
    raise InvalidEvent("the payload has no usable timestamp",
                       [{"field": " or ".join(fields), "problem": "missing or not ISO 8601 with an offset"}])


def referral_code(order: Mapping[str, Any]) -> str | None:
    for field in ("landing_site", "referring_site"):
        url = order.get(field)
        if isinstance(url, str) and "ref=" in url:
            values = parse_qs(urlsplit(url).query).get("ref")
            if values and values[0].strip():
                return values[0].strip()[:256]
    for attribute in order.get("note_attributes") or []:
        if isinstance(attribute, dict) and str(attribute.get("name", "")).lower() in REFERRAL_ATTRIBUTES:
            value = _text(attribute.get("value"))
            if value:
                return value[:256]
    return None


def _consent(customer: Mapping[str, Any]) -> dict[str, bool]:
    consent = {}
    for channel, field in (("email", "email_marketing_consent"), ("sms", "sms_marketing_consent")):
        state = (customer.get(field) or {}).get("state") if isinstance(customer.get(field), dict) else None
        if state:
            consent[channel] = state == "subscribed"
    return consent


def _customer(payload: Mapping[str, Any], customer: Mapping[str, Any]) -> dict[str, Any]:
    addresses = [payload.get("billing_address"), payload.get("shipping_address"), customer.get("default_address")]
    phones = [payload.get("phone"), customer.get("phone")] + [a.get("phone") for a in addresses if isinstance(a, dict)]
    emails = [payload.get("email"), payload.get("contact_email"), customer.get("email")]
    name = " ".join(p for p in (_text(customer.get("first_name")), _text(customer.get("last_name"))) if p)
    return {
        "phone": next((p for p in map(_text, phones) if p), None),
        "email": next((e for e in map(_text, emails) if e), None),
        "name": name or None,
        "ec_customer_id": _text(customer.get("id")),
        "consent": _consent(customer) or None,
        "tags": [t.strip() for t in str(customer.get("tags") or "").split(",") if t.strip()][:50],
    }


def _check_shape(topic: str, payload: Mapping[str, Any]) -> None:
    """The topic is not signed: a body of another shape than its topic names is refused, not reinterpreted."""
    def carried(shape: dict[str, tuple[str, ...]]) -> list[str]:
        return [name for name, keys in shape.items() if any(key in payload for key in keys)]

    if topic in ORDER_TOPICS:
        problems = {name: "missing: the body is not an order" for name in ORDER_SHAPE
                    if name not in carried(ORDER_SHAPE)}
    elif topic == REFUND_TOPIC:
        problems = {name: "missing: the body is not a refund" for name in REFUND_SHAPE
                    if name not in carried(REFUND_SHAPE)}
    else:
        problems = {name: "an order or refund field in a customer body"
                    for name in carried(ORDER_SHAPE) + carried(REFUND_SHAPE)}
    if problems:
        raise InvalidEvent(f"the body does not fit topic {topic}",
                           [{"field": field, "problem": problem} for field, problem in problems.items()])


def _refund_line(refund: Mapping[str, Any]) -> dict[str, Any]:
    """One refund as a refund line: the goods it gives back, under Shopify's refund id."""
    lines = [line for line in refund.get("refund_line_items") or [] if isinstance(line, dict)]
    if lines:
        amount = sum((_money(line.get("subtotal_set") or line.get("subtotal"), "refund_line_items.subtotal")
                      for line in lines), Decimal(0))
    else:
        amount = sum((_money(t.get("amount"), "transactions.amount") for t in refund.get("transactions") or []
                      if isinstance(t, dict) and t.get("kind") == "refund" and t.get("status") == "success"),
                     Decimal(0))
        amount -= sum((_money(s.get("subtotal_amount_set") or s.get("subtotal_amount"), "refund_shipping_lines")
                       for s in refund.get("refund_shipping_lines") or [] if isinstance(s, dict)), Decimal(0))
    occurred = _moment(refund, "processed_at", "created_at")
    return {"refund_id": str(refund["id"]), "amount": str(max(amount, Decimal(0))),
            "occurred_at": occurred.isoformat() if occurred else None, "reason": _text(refund.get("note"))}


def _financial_status(payload: Mapping[str, Any]) -> str:
    status = payload.get("financial_status")
    if status is not None and not isinstance(status, str):
        raise InvalidEvent("financial_status is not text", [{"field": "financial_status", "problem": "not text"}])
    return (status or "").strip().lower()


def _cancelled(payload: Mapping[str, Any]) -> bool:
    """Cancelled only when the payload says when; a ``cancelled_at`` that is not a time is refused."""
    if payload.get("cancelled_at") in (None, ""):
        return False
    _time(payload, "cancelled_at")
    return True


def _order_event(payload: Mapping[str, Any]) -> dict[str, Any]:
    if payload.get("id") is None:
        raise InvalidEvent("the order has no id", [{"field": "id", "problem": "missing"}])
    order_id = str(payload["id"])
    placed = _time(payload, "processed_at", "created_at")
    version = _moment(payload, "updated_at") or placed
    total = _money(payload.get("total_price_set") or payload.get("total_price"), "total_price")
    if not payload.get("taxes_included"):
        total -= _money(payload.get("total_tax_set") or payload.get("total_tax"), "total_tax")
    total = max(total, Decimal(0))
    shipping = _money(payload.get("total_shipping_price_set"), "total_shipping_price_set")
    refunds = [_refund_line(r) for r in payload.get("refunds") or [] if isinstance(r, dict) and r.get("id") is not None]
    status = _financial_status(payload)
    rest = max(total - shipping, Decimal(0)) - sum((Decimal(r["amount"]) for r in refunds), Decimal(0))
    if status in KEPT_NOTHING and rest > 0:
        refunds.append({"refund_id": f"{order_id}:{status}", "amount": str(rest),
                        "occurred_at": version.isoformat(), "reason": f"financial status {status}"})
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    return {
        "type": "order.cancelled" if _cancelled(payload) else "order.created",
        "occurred_at": placed.isoformat(),
        "referral_code": referral_code(payload),
        "customer": _customer(payload, customer),
        "order": {
            "order_id": order_id,
            "currency": str(payload.get("currency") or "TWD").upper(),
            "total": str(total),
            "discount": str(_money(payload.get("total_discounts_set") or payload.get("total_discounts"),
                                   "total_discounts")),
            "shipping": str(shipping),
            "items": [{
                "sku": _text(item.get("sku")), "name": _text(item.get("title") or item.get("name")),
                "quantity": int(item.get("quantity") or 0), "price": str(_money(item.get("price"), "price")),
                "category": _text(item.get("product_type") or item.get("vendor")),
            } for item in payload.get("line_items") or [] if isinstance(item, dict)],
            "refunds": refunds,
            "version": int(version.timestamp() * 1000),
        },
    }


def _refund_event(payload: Mapping[str, Any]) -> dict[str, Any]:
    if payload.get("id") is None or payload.get("order_id") is None:
        raise InvalidEvent("the refund needs id and order_id",
                           [{"field": f, "problem": "missing"} for f in ("id", "order_id") if payload.get(f) is None])
    occurred = _time(payload, "processed_at", "created_at")
    return {
        "type": "order.refunded",
        "occurred_at": occurred.isoformat(),
        "order": {"order_id": str(payload["order_id"]), "currency": "TWD", "refunds": [_refund_line(payload)]},
    }


def _customer_event(payload: Mapping[str, Any], triggered_at: str | None) -> dict[str, Any]:
    """Shopify's customer samples carry no timestamps: fall back to the delivery's, then to now."""
    if payload.get("id") is None:
        raise InvalidEvent("the customer has no id", [{"field": "id", "problem": "missing"}])
    try:
        occurred = _time({**payload, "triggered_at": triggered_at}, "updated_at", "created_at", "triggered_at")
    except InvalidEvent:
        occurred = datetime.now(tz=UTC)
    return {"type": "member.upserted", "occurred_at": occurred.isoformat(), "customer": _customer({}, payload)}


class ShopifyAdapter:
    def verify(self, headers: Mapping[str, str], body: bytes, secret: str, now: float,
               window_seconds: int) -> bool:
        return verify_shopify(secret, headers.get("x-shopify-hmac-sha256"), body)

    def parse(self, source: str, headers: Mapping[str, str], body: bytes) -> list[CanonicalEvent]:
        topic = (headers.get("x-shopify-topic") or "").strip().lower()
        webhook_id = (headers.get("x-shopify-webhook-id") or "").strip()
        if not webhook_id:
            raise InvalidEvent("X-Shopify-Webhook-Id is required", [{"field": "X-Shopify-Webhook-Id",
                                                                     "problem": "missing"}])
        if topic not in ORDER_TOPICS and topic not in CUSTOMER_TOPICS and topic != REFUND_TOPIC:
            raise InvalidEvent(f"topic '{topic[:60]}' is not handled",
                               [{"field": "X-Shopify-Topic", "problem": "not a handled topic"}])
        payload = json_object(body, "Shopify's JSON object")
        _check_shape(topic, payload)
        try:
            if topic in ORDER_TOPICS:
                mapped = _order_event(payload)
            elif topic == REFUND_TOPIC:
                mapped = _refund_event(payload)
            else:
                mapped = _customer_event(payload, headers.get("x-shopify-triggered-at"))
        except (TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise InvalidEvent("the Shopify payload has fields of the wrong type",
                               [{"field": "", "problem": type(exc).__name__}]) from exc
        mapped.update(event_id=f"shopify:{webhook_id}"[:128], channel="ec", source=source)
        try:
            return [CanonicalEvent.model_validate(mapped)]
        except ValidationError as exc:
            raise InvalidEvent("the Shopify payload does not map to a valid event",
                               validation_details(exc)) from exc


ADAPTER = ShopifyAdapter()
