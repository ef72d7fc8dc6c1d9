"""Shopify deliveries through the webhook edge and the worker, against moto."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from omo2c import wiring
from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.members.storage import MemberItem, member_key
from tests.conftest import LOCAL_SECRETS, published
from tests.support.aws import http_event, load_handler, sqs_event
from tests.support.events import sample, shopify_headers, shopify_order

SECRET = LOCAL_SECRETS["OMO_SOURCE_SECRET_SHOPIFY"]


@pytest.fixture
def edge(aws, lambda_context):
    api = load_handler("IngestApiFunction")
    worker = load_handler("IngestWorkerFunction")

    def deliver(payload: dict, topic: str, webhook_id: str, secret: str = SECRET) -> dict:
        body = json.dumps(payload).encode()
        event = http_event("POST", "/webhooks/shopify", route="/webhooks/{source}", body=body,
                           headers=shopify_headers(body, topic, webhook_id, secret),
                           path_params={"source": "shopify"})
        response = api.lambda_handler(event, lambda_context)
        messages = aws["sqs"].receive_message(QueueUrl=aws["ingest_url"], MaxNumberOfMessages=10).get("Messages", [])
        deliver.queued.append(len(messages))
        if messages:
            assert worker.lambda_handler(sqs_event([m["Body"] for m in messages]), lambda_context) == {
                "batchItemFailures": []}
            for m in messages:
                aws["sqs"].delete_message(QueueUrl=aws["ingest_url"], ReceiptHandle=m["ReceiptHandle"])
        return response

    deliver.queued = []
    return deliver


def by_email(email: str):
    return wiring.production().members.find_by_identifier(Identifier(IdentifierKind.EMAIL, email))


def test_order_then_refund_then_redelivery(edge):
    order = shopify_order(phone="+886 955 321 654", email="mei.ec@example.com")
    assert edge(order, "orders/create", "wh-order-1")["statusCode"] == 202
    member = by_email("mei.ec@example.com")
    assert member.rfm.order_count == 1 and member.rfm.net_spent == Decimal("394.95")
    same_phone = wiring.production().members.find_by_identifier(Identifier(IdentifierKind.PHONE, "+886955321654"))
    assert same_phone.member_id == member.member_id

    assert edge(sample("shopify/refunds-create.json"), "refunds/create", "wh-refund-1")["statusCode"] == 202
    assert by_email("mei.ec@example.com").rfm.net_spent == Decimal("304.96")

    again = edge(order, "orders/create", "wh-order-1")
    assert again["statusCode"] == 202 and json.loads(again["body"]) == {"accepted": ["shopify:wh-order-1"]}
    edge(sample("shopify/refunds-create.json"), "refunds/create", "wh-refund-1")
    after = by_email("mei.ec@example.com")
    assert after.rfm.order_count == 1 and after.rfm.net_spent == Decimal("304.96")


def test_wrong_hmac_is_401_and_queues_nothing(edge, aws):
    response = edge(shopify_order(email="x@example.com"), "orders/create", "wh-bad", secret="not-the-secret")
    assert response["statusCode"] == 401
    assert by_email("x@example.com") is None


def stored_order(order_id: str):
    """The order as the business sees it (without the storage's write counter)."""
    return replace(wiring.production().members.snapshot([], ("shopify", order_id), "probe").order, version=0)


def test_a_captured_order_body_under_another_topic_changes_nothing(edge, aws):
    """Shopify's HMAC covers the body only, so anyone holding a body can re-send it under any topic."""
    order = shopify_order(email="swap@example.com")
    assert edge(order, "orders/create", "wh-swap-1")["statusCode"] == 202
    member, kept = by_email("swap@example.com"), stored_order("820982911946154508")
    assert member.rfm.order_count == 1 and kept.status == "open" and kept.net_kept == Decimal("394.95")
    published(aws)

    for n, topic in enumerate(("orders/cancelled", "orders/updated", "orders/paid")):
        assert edge(order, topic, f"wh-swap-replay-{n}")["statusCode"] == 202
    assert stored_order("820982911946154508") == kept
    assert by_email("swap@example.com").rfm == member.rfm
    assert not [e for e in published(aws) if e["detail-type"].startswith("order.")]


@pytest.mark.parametrize(("body", "topic"), [
    (lambda: sample("shopify/customers-create.json") | {"email": "bob.swap@example.com",
                                                        "created_at": "2026-11-01T10:00:00+08:00",
                                                        "updated_at": "2026-11-01T10:00:00+08:00"}, "orders/create"),
    (lambda: sample("shopify/refunds-create.json") | {"processed_at": "2030-01-01T00:00:00+00:00"}, "orders/updated"),
    (lambda: shopify_order(email="bob.swap@example.com"), "customers/update"),
    (lambda: shopify_order(email="bob.swap@example.com"), "refunds/create"),
])
def test_a_body_that_does_not_fit_its_topic_is_422_and_enqueues_nothing(edge, body, topic):
    assert edge(shopify_order(email="held@example.com"), "orders/create", "wh-held")["statusCode"] == 202
    held = stored_order("820982911946154508")
    response = edge(body(), topic, "wh-misfit")
    assert response["statusCode"] == 422, response["body"]
    error = json.loads(response["body"])
    assert topic in error["message"] and error["details"]
    assert edge.queued[-1] == 0
    assert by_email("bob.swap@example.com") is None and stored_order("820982911946154508") == held
    assert by_email("held@example.com").rfm.net_spent == Decimal("394.95")


def test_an_update_a_week_later_keeps_the_order_time_for_the_member_and_the_attribution(edge, aws, lambda_context):
    """Shopify does not promise delivery order: here the week-later orders/updated comes before orders/create."""
    placed = (datetime.now(tz=UTC) - timedelta(days=10)).replace(microsecond=0)
    week_later = placed + timedelta(days=7)
    assert edge(sample("shopify/customers-create.json") | {"email": "week@example.com"}, "customers/create",
                "wh-week-0")["statusCode"] == 202
    member = by_email("week@example.com")
    MemberItem(*member_key(member.member_id)).update(actions=[MemberItem.binding.set(
        {"staff_id": "S777", "store_id": "ST07", "bound_at": (placed + timedelta(days=1)).isoformat(),
         "last_interaction_at": datetime.now(tz=UTC).isoformat()})])
    published(aws)

    order = shopify_order(email="week@example.com", processed_at=placed.isoformat(),
                          created_at=placed.isoformat(), updated_at=week_later.isoformat())
    assert edge(order | {"fulfillment_status": "fulfilled"}, "orders/updated", "wh-week-2")["statusCode"] == 202
    assert edge(order | {"updated_at": placed.isoformat()}, "orders/create", "wh-week-1")["statusCode"] == 202

    placed_ms = int(placed.timestamp() * 1000)
    assert by_email("week@example.com").rfm.last_order_at == placed_ms
    recorded = [e for e in published(aws) if e["detail-type"] == "order.recorded"]
    assert [e["detail"]["placed_at"] for e in recorded] == [placed_ms]
    consumer = load_handler("AttributeFunction")
    assert consumer.lambda_handler(sqs_event([json.dumps(e) for e in recorded]), lambda_context) == {
        "batchItemFailures": []}
    trace = wiring.production().commission_service.explain("shopify", "820982911946154508")
    assert trace["rule"] == "unattributed"
    assert {"rule": "active_binding", "matched": False, "reason": "the binding was made after the order"} in trace[
        "trace"]
