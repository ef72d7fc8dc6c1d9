"""Shopify payloads map into canonical events.

The samples in events/shopify are Shopify's published webhook test payloads: the orders/create
and refunds/create bodies of Shopify's webhook reference (order 820982911946154508, refund
890088186047892319) and its customers/create sample (customer 706405506930370084). Shopify's
test order is cancelled and voided; the sample keeps it open and paid (``cancelled_at`` null,
``financial_status`` paid), since the payload, not the topic, says an order's state.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omo2c.core.errors import OmoError
from omo2c.sources.shopify import ADAPTER, referral_code
from tests.support.events import sample, shopify_headers, shopify_order

SECRET = "shpss_test"


def parse(payload: dict, topic: str, webhook_id: str = "wh-1"):
    body = json.dumps(payload).encode()
    headers = {k.lower(): v for k, v in shopify_headers(body, topic, webhook_id, SECRET).items()}
    assert ADAPTER.verify(headers, body, SECRET, 0, 300)
    return ADAPTER.parse("shopify", headers, body)


def test_orders_create_sample_maps_to_an_ec_order_with_net_after_discounts_without_shipping():
    (event,) = parse(sample("shopify/orders-create.json"), "orders/create")
    assert event.event_id == "shopify:wh-1" and event.type.value == "order.created" and event.channel.value == "ec"
    assert event.order.order_id == "820982911946154508"
    assert event.order.total == Decimal("404.95") and event.order.shipping == Decimal("10.00")
    assert event.order.net == Decimal("394.95")
    assert event.order.discount == Decimal("20.00") and event.order.items[0].sku == "SKU2006-001"
    assert event.customer.email == "jon@example.com" and event.customer.ec_customer_id == "115310627314723954"
    assert event.customer.name == "John Smith"
    assert event.order.version == int(event.occurred_at.timestamp() * 1000)


ORDER_TOPICS = ["orders/create", "orders/updated", "orders/paid", "orders/cancelled"]


def test_every_order_topic_maps_one_body_to_one_snapshot_the_topic_cannot_cancel():
    """Shopify's HMAC covers the body only: a captured body re-sent under another topic must mean the same."""
    body = sample("shopify/orders-create.json")
    events = [parse(body, topic, f"wh-{n}")[0] for n, topic in enumerate(ORDER_TOPICS)]
    assert {e.type.value for e in events} == {"order.created"}
    assert all(e.model_dump(exclude={"event_id"}) == events[0].model_dump(exclude={"event_id"}) for e in events)
    assert events[0].order.refunds == []


@pytest.mark.parametrize("topic", ORDER_TOPICS)
def test_an_order_is_cancelled_only_when_its_payload_has_cancelled_at(topic):
    cancelled = shopify_order(cancelled_at="2022-01-02T10:00:00-05:00", cancel_reason="customer",
                              financial_status="voided")
    (event,) = parse(cancelled, topic)
    assert event.type.value == "order.cancelled" and event.order.total == Decimal("404.95")


def test_refunds_the_order_carries_are_its_refund_lines_under_their_refund_ids():
    refund = sample("shopify/refunds-create.json")
    (event,) = parse(shopify_order(financial_status="partially_refunded", refunds=[refund]), "orders/updated")
    (alone,) = parse(refund, "refunds/create")
    assert event.type.value == "order.created"
    assert [(r.refund_id, r.amount) for r in event.order.refunds] == [
        (r.refund_id, r.amount) for r in alone.order.refunds] == [("890088186047892319", Decimal("89.99"))]


@pytest.mark.parametrize(("status", "refunds"), [("refunded", ["shopify/refunds-create.json"]), ("refunded", []),
                                                  ("voided", [])])
def test_a_refunded_or_voided_order_keeps_nothing(status, refunds):
    order = shopify_order(financial_status=status, refunds=[sample(name) for name in refunds])
    (event,) = parse(order, "orders/paid")
    assert event.type.value == "order.created"
    assert sum(r.amount for r in event.order.refunds) == event.order.net == Decimal("394.95")
    assert event.order.refunds[-1].refund_id == f"820982911946154508:{status}"


def _customer_with_times():
    return sample("shopify/customers-create.json") | {"created_at": "2026-11-01T10:00:00+08:00",
                                                      "updated_at": "2026-11-01T10:00:00+08:00"}


@pytest.mark.parametrize(("body", "topic", "fields"), [
    (_customer_with_times, "orders/create", {"line_items", "total_price", "financial_status"}),
    (lambda: sample("shopify/refunds-create.json"), "orders/updated", {"line_items", "total_price",
                                                                        "financial_status"}),
    (lambda: {"id": 5, "total_price": "10.00"}, "orders/paid", {"line_items", "financial_status"}),
    (lambda: sample("shopify/orders-create.json"), "customers/create", {"line_items", "total_price",
                                                                         "financial_status"}),
    (lambda: sample("shopify/refunds-create.json"), "customers/update", {"order_id", "refund_line_items"}),
    (lambda: sample("shopify/orders-create.json"), "refunds/create", {"order_id", "refund_line_items"}),
    (_customer_with_times, "refunds/create", {"order_id", "refund_line_items"}),
])
def test_a_body_that_does_not_fit_its_topic_is_422_naming_the_fields(body, topic, fields):
    with pytest.raises(OmoError) as error:
        parse(body(), topic)
    assert error.value.status == 422 and topic in str(error.value)
    assert {d["field"] for d in error.value.details} == fields


def test_the_order_happened_at_processed_at_and_updated_at_is_only_its_version():
    week_later = "2026-11-29T09:00:00+08:00"
    (event,) = parse(shopify_order(processed_at="2026-11-22T14:05:00+08:00", created_at="2026-11-22T14:04:00+08:00",
                                   updated_at=week_later), "orders/updated")
    assert event.occurred_at.isoformat() == "2026-11-22T14:05:00+08:00"
    assert event.order.version == int(datetime.fromisoformat(week_later).timestamp() * 1000)
    (no_processed,) = parse(shopify_order(processed_at=None, created_at="2026-11-22T14:04:00+08:00",
                                          updated_at=week_later), "orders/updated")
    assert no_processed.occurred_at.isoformat() == "2026-11-22T14:04:00+08:00"
    assert no_processed.order.version == event.order.version


def test_refunds_create_sample_is_a_refund_of_the_goods():
    (event,) = parse(sample("shopify/refunds-create.json"), "refunds/create")
    assert event.type.value == "order.refunded" and event.order.order_id == "820982911946154508"
    assert [(r.refund_id, r.amount) for r in event.order.refunds] == [("890088186047892319", Decimal("89.99"))]


def test_customers_create_sample_is_a_member_upsert():
    (event,) = parse(sample("shopify/customers-create.json"), "customers/create")
    assert event.type.value == "member.upserted" and event.customer.email == "bob@biller.com"
    assert event.customer.ec_customer_id == "706405506930370084"


def test_referral_code_from_landing_site_or_note_attributes():
    assert referral_code({"landing_site": "/products/tea?ref=ab12cd&utm_source=line"}) == "ab12cd"
    assert referral_code({"note_attributes": [{"name": "referral_code", "value": "S001"}]}) == "S001"
    assert referral_code({"landing_site": "/", "referring_site": None}) is None
    order = shopify_order(landing_site="/?ref=QR77")
    assert parse(order, "orders/create")[0].referral_code == "QR77"


def test_missing_webhook_id_unknown_topic_and_wrong_shapes_are_clear_errors():
    body = json.dumps(sample("shopify/orders-create.json")).encode()
    headers = {k.lower(): v for k, v in shopify_headers(body, "orders/create", "", SECRET).items()}
    with pytest.raises(OmoError, match="Webhook-Id"):
        ADAPTER.parse("shopify", headers, body)
    with pytest.raises(OmoError, match="not handled"):
        parse(sample("shopify/orders-create.json"), "products/create")
    with pytest.raises(OmoError) as missing:
        parse({"total_price": "1"}, "orders/create")
    assert missing.value.status == 422


def test_wrong_hmac_does_not_verify():
    body = b'{"id": 1}'
    headers = {k.lower(): v for k, v in shopify_headers(body, "orders/create", "w", "other").items()}
    assert not ADAPTER.verify(headers, body, SECRET, 0, 300)


JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                    max_size=6), max_leaves=20)


@given(st.one_of(st.binary(max_size=200), JSONISH.map(lambda v: json.dumps(v).encode()),
                 st.dictionaries(st.sampled_from(["id", "total_price", "updated_at", "customer", "line_items",
                                                  "order_id", "refund_line_items", "note_attributes",
                                                  "financial_status", "cancelled_at", "refunds", "processed_at",
                                                  "transactions"]), JSONISH)
                 .map(lambda v: json.dumps(v).encode())),
       st.sampled_from(["orders/create", "refunds/create", "customers/update", "orders/cancelled"]))
def test_garbage_only_ever_raises_documented_errors(body, topic):
    headers = {"x-shopify-topic": topic, "x-shopify-webhook-id": "w"}
    try:
        ADAPTER.parse("shopify", headers, body)
    except OmoError as error:
        assert error.status in (400, 422)


@pytest.mark.parametrize("broken", [
    {"line_items": [{"quantity": "many"}]},
    {"total_price_set": {"shop_money": {"amount": "1e400000"}}},
    {"total_price_set": {"shop_money": {"amount": "free"}}},
    {"cancelled_at": "soon"},
    {"financial_status": 7},
])
def test_mistyped_amounts_and_quantities_are_422_not_crashes(broken):
    with pytest.raises(OmoError) as error:
        parse(shopify_order(**broken), "orders/create")
    assert error.value.status == 422


@pytest.mark.parametrize("odd", [
    {"line_items": "not a list"},
    {"customer": {"first_name": 7, "tags": 3}},
    {"note_attributes": ["x"]},
    {"updated_at": "yesterday"},
])
def test_odd_optional_fields_are_tolerated(odd):
    (event,) = parse(shopify_order(**odd), "orders/create")
    assert event.order.order_id == "820982911946154508"
