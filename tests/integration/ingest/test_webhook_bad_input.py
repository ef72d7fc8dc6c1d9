"""Hostile bodies and headers at the webhook edge: every one is a 4xx that names the problem, nothing queued."""

from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import LOCAL_SECRETS
from tests.integration.ingest.test_webhook_to_member import post_webhook, queued
from tests.support.aws import http_event, load_handler
from tests.support.events import pos_order, shopify_headers, signed_headers

SECRET = LOCAL_SECRETS["OMO_SOURCE_SECRET_POS"]


@pytest.fixture
def api(aws):
    return load_handler("IngestApiFunction")


def _order_with_total(total: str) -> bytes:
    text = json.dumps(pos_order()).replace('"total": 1000', f'"total": {total}')
    assert total in text
    return text.encode()


HOSTILE = {
    "a 5,000-digit integer": (_order_with_total("9" * 5000), 400),
    "an infinite number": (_order_with_total("1e999999999"), 422),
    "a 50,000-deep array": (b'{"events": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", 400),
    "not UTF-8": (b'{"event_id": "\xff\xfe"}', 400),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_bodies_are_client_errors(aws, api, lambda_context, name):
    body, status = HOSTILE[name]
    event = http_event("POST", "/webhooks/pos", route="/webhooks/{source}", path_params={"source": "pos"},
                       headers=signed_headers(body, SECRET))
    event.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)
    response = api.lambda_handler(event, lambda_context)
    assert response["statusCode"] == status, name
    assert json.loads(response["body"])["message"]
    assert queued(aws) == 0


@pytest.mark.parametrize("signature", ["sha256=不是簽章", "sha256=\u00e9" * 3])
def test_non_ascii_signatures_are_401(aws, api, lambda_context, signature):
    body = json.dumps(pos_order()).encode()
    headers = {**signed_headers(body, SECRET), "X-Omo-Signature": signature}
    assert post_webhook(api, lambda_context, body, headers)["statusCode"] == 401
    shopify = {**shopify_headers(body, "orders/create", "w-1", "x"), "X-Shopify-Hmac-Sha256": "簽章"}
    assert post_webhook(api, lambda_context, body, shopify, source="shopify")["statusCode"] == 401
    assert queued(aws) == 0
