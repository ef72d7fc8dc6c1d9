"""Shopify deliveries through the webhook edge and the worker, against moto."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from omo2c import wiring
from omo2c.identity.identifiers import Identifier, IdentifierKind
from tests.conftest import LOCAL_SECRETS
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
        if messages:
            assert worker.lambda_handler(sqs_event([m["Body"] for m in messages]), lambda_context) == {
                "batchItemFailures": []}
            for m in messages:
                aws["sqs"].delete_message(QueueUrl=aws["ingest_url"], ReceiptHandle=m["ReceiptHandle"])
        return response

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
