"""The reported attack, end to end against moto: a signed POS event must not link a LINE user to a phone."""

from __future__ import annotations

import json

from omo2c import wiring
from omo2c.core.settings import Settings
from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.sources.canonical import CanonicalEvent
from tests.conftest import LOCAL_SECRETS
from tests.support.aws import http_event, load_handler, sqs_event
from tests.support.events import pos_order, signed_headers

ATTACKER = "U" + "e" * 32


def post_and_drain(aws, ctx, raw: dict, services: wiring.Services | None = None) -> dict:
    body = json.dumps(raw).encode()
    event = http_event("POST", "/webhooks/pos", route="/webhooks/{source}", body=body, path_params={"source": "pos"},
                       headers=signed_headers(body, LOCAL_SECRETS["OMO_SOURCE_SECRET_POS"]))
    response = load_handler("IngestApiFunction").lambda_handler(event, ctx, services=services)
    messages = aws["sqs"].receive_message(QueueUrl=aws["ingest_url"], MaxNumberOfMessages=10)["Messages"]
    worker = load_handler("IngestWorkerFunction")
    assert worker.lambda_handler(sqs_event([m["Body"] for m in messages]), ctx) == {"batchItemFailures": []}
    for m in messages:
        aws["sqs"].delete_message(QueueUrl=aws["ingest_url"], ReceiptHandle=m["ReceiptHandle"])
    return response


def test_a_pos_event_naming_the_victims_phone_and_the_attackers_line_id_links_nothing(aws, lambda_context):
    store = wiring.production().members
    resolver = wiring.production().resolver
    victim = resolver.record(CanonicalEvent.model_validate(
        {**pos_order("v-1", phone="0955-121-343", order_id="V-1"), "source": "pos"})).member_id
    attacker = resolver.record(CanonicalEvent.model_validate({
        "event_id": "U1-follow", "type": "member.upserted", "occurred_at": "2026-11-22T10:00:00+08:00",
        "channel": "line", "source": "line", "customer": {"line_user_id": ATTACKER}})).member_id

    raw = pos_order("attack-1", phone="0955121343", order_id="V-2")
    raw["customer"]["line_user_id"] = ATTACKER
    response = post_and_drain(aws, lambda_context, raw)
    assert response["statusCode"] == 202
    body = json.loads(response["body"])
    assert body["accepted"] == ["attack-1"]
    assert [(i["event_id"], i["field"]) for i in body["ignored"]] == [("attack-1", "customer.line_user_id")]

    assert store.get_member(victim).live and store.get_member(attacker).live
    assert store.get_member(victim).line_user_id is None
    assert store.find_by_identifier(Identifier(IdentifierKind.LINE_USER, ATTACKER)).member_id == attacker
    assert store.get_member(victim).rfm.order_count == 2, "the rest of the event is recorded as usual"


def test_a_source_trusted_for_line_ids_links_them(aws, lambda_context, monkeypatch):
    monkeypatch.setenv("OMO_LINE_ID_TRUSTED_SOURCES", "pos")
    raw = pos_order("trusted-1", phone="0955-121-999", order_id="T-1")
    raw["customer"]["line_user_id"] = ATTACKER
    response = post_and_drain(aws, lambda_context, raw, services=wiring.Services(Settings.from_env()))
    assert json.loads(response["body"]) == {"accepted": ["trusted-1"]}
    member = wiring.production().members.find_by_identifier(Identifier(IdentifierKind.LINE_USER, ATTACKER))
    assert member is not None and member.phone == "+886955121999"
