"""The first slice: signed webhook -> queue -> worker -> member, against moto."""

from __future__ import annotations

import json

import pytest

from omo2c import wiring
from omo2c.core.queues import BatchSender
from omo2c.core.settings import Settings
from omo2c.sources.queue import IngestQueue
from tests.conftest import LOCAL_SECRETS, published
from tests.support.aws import http_event, load_handler, sqs_event
from tests.support.events import pos_order, signed_headers

ADMIN = {"Authorization": "Bearer test-admin-token"}


@pytest.fixture
def api(aws):
    return load_handler("IngestApiFunction")


@pytest.fixture
def worker(aws):
    return load_handler("IngestWorkerFunction")


def post_webhook(api, ctx, body: bytes, headers: dict[str, str], source: str = "pos"):
    event = http_event("POST", f"/webhooks/{source}", route="/webhooks/{source}", body=body, headers=headers,
                       path_params={"source": source})
    return api.lambda_handler(event, ctx)


def drain_to_worker(aws, worker, ctx) -> dict:
    messages = aws["sqs"].receive_message(QueueUrl=aws["ingest_url"], MaxNumberOfMessages=10)["Messages"]
    result = worker.lambda_handler(sqs_event([m["Body"] for m in messages]), ctx)
    for m in messages:
        aws["sqs"].delete_message(QueueUrl=aws["ingest_url"], ReceiptHandle=m["ReceiptHandle"])
    return result


def get_members(api, ctx, **query):
    """Members are read through their own admin function; ``api`` is the webhook intake."""
    event = http_event("GET", "/members", route="/members", headers=ADMIN, query=query)
    return load_handler("MembersApiFunction").lambda_handler(event, ctx)


def queued(aws) -> int:
    attrs = aws["sqs"].get_queue_attributes(QueueUrl=aws["ingest_url"], AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_signed_order_creates_member_found_by_any_phone_format(aws, api, worker, lambda_context):
    body = json.dumps(pos_order(phone="0933-128-765", pos_member_no="M000123")).encode()
    response = post_webhook(api, lambda_context, body, signed_headers(body, LOCAL_SECRETS["OMO_SOURCE_SECRET_POS"]))
    assert response["statusCode"] == 202
    assert json.loads(response["body"]) == {"accepted": ["pos-1"]}

    assert drain_to_worker(aws, worker, lambda_context) == {"batchItemFailures": []}

    found = get_members(api, lambda_context, phone="+886 933 128 765")
    assert found["statusCode"] == 200
    member = json.loads(found["body"])
    assert member["orders"]["count"] == 1
    assert member["orders"]["net_spent"] == "1000"
    assert {"kind": "phone", "value": "***765"} in member["identities"]
    assert "0933" not in found["body"]
    types = [e["detail-type"] for e in published(aws)]
    assert sorted(types) == ["member.created", "order.recorded"]


@pytest.mark.parametrize("headers", [
    {},
    {"X-Omo-Timestamp": "1", "X-Omo-Signature": "sha256=00"},
])
def test_unsigned_or_wrong_signature_is_401_and_enqueues_nothing(aws, api, lambda_context, headers):
    body = json.dumps(pos_order()).encode()
    response = post_webhook(api, lambda_context, body, headers)
    assert response["statusCode"] == 401
    assert queued(aws) == 0


def test_stale_timestamp_is_401(aws, api, lambda_context):
    body = json.dumps(pos_order()).encode()
    headers = signed_headers(body, LOCAL_SECRETS["OMO_SOURCE_SECRET_POS"], timestamp=1_000_000_000)
    assert post_webhook(api, lambda_context, body, headers)["statusCode"] == 401
    assert queued(aws) == 0


def test_unknown_source_is_404(aws, api, lambda_context):
    body = b"{}"
    assert post_webhook(api, lambda_context, body, signed_headers(body, "x"), source="nope")["statusCode"] == 404


def test_malformed_and_invalid_bodies_name_the_problem(aws, api, lambda_context):
    secret = LOCAL_SECRETS["OMO_SOURCE_SECRET_POS"]
    bad_json = b"{not json"
    assert post_webhook(api, lambda_context, bad_json, signed_headers(bad_json, secret))["statusCode"] == 400
    event = pos_order()
    del event["occurred_at"]
    event["order"]["total"] = "lots"
    body = json.dumps(event).encode()
    response = post_webhook(api, lambda_context, body, signed_headers(body, secret))
    assert response["statusCode"] == 422
    fields = {d["field"] for d in json.loads(response["body"])["details"]}
    assert {"occurred_at", "order.total"} <= fields
    assert queued(aws) == 0


def test_oversized_body_is_413(aws, api, lambda_context):
    body = b"{" + b" " * (300 * 1024) + b"}"
    response = post_webhook(api, lambda_context, body, signed_headers(body, LOCAL_SECRETS["OMO_SOURCE_SECRET_POS"]))
    assert response["statusCode"] == 413
    assert queued(aws) == 0


def test_lookup_of_unknown_phone_is_404_and_junk_is_422(aws, api, lambda_context):
    assert get_members(api, lambda_context, phone="0955-000-111")["statusCode"] == 404
    assert get_members(api, lambda_context, phone="not a phone")["statusCode"] == 422


def test_a_queue_that_keeps_refusing_is_503_never_202(aws, api, lambda_context):
    """The source retries a 503; a 202 would have told it the events were safe when they were lost."""

    class RefusingSqs:
        def send_message_batch(self, QueueUrl, Entries):
            return {"Failed": [{"Id": e["Id"], "SenderFault": False, "Code": "ServiceUnavailable"} for e in Entries]}

    services = wiring.Services(Settings.from_env())
    services.ingest_queue = IngestQueue(BatchSender(aws["ingest_url"], RefusingSqs(), sleep=lambda _: None))
    body = json.dumps(pos_order()).encode()
    event = http_event("POST", "/webhooks/pos", route="/webhooks/{source}", body=body, path_params={"source": "pos"},
                       headers=signed_headers(body, LOCAL_SECRETS["OMO_SOURCE_SECRET_POS"]))
    response = api.lambda_handler(event, lambda_context, services=services)
    assert response["statusCode"] == 503 and json.loads(response["body"])["error"] == "unavailable"
    assert queued(aws) == 0
