"""Hostile LINE deliveries: a bad body is a 400 that says why, a bad event is refused alone."""

from __future__ import annotations

import json

import pytest

from omo2c import wiring
from omo2c.core.settings import Settings
from tests.conftest import LOCAL_SECRETS
from tests.support.aws import http_event, load_handler
from tests.support.events import line_event, line_signature
from tests.support.fakes import FakeMessenger, FakeSms

SECRET = LOCAL_SECRETS["LINE_CHANNEL_SECRET"]
MEI = "U" + "a1" * 16


@pytest.fixture
def deliver(aws, lambda_context):
    services = wiring.Services(Settings.from_env(), messenger=FakeMessenger(), sms=FakeSms())
    webhook = load_handler("LineWebhookFunction")

    def send(body: bytes) -> tuple[int, dict]:
        headers = {"X-Line-Signature": line_signature(body, SECRET), "Content-Type": "application/json"}
        event = http_event("POST", "/line/webhook", route="/line/webhook", body=body, headers=headers)
        response = webhook.lambda_handler(event, lambda_context, services=services)
        return response["statusCode"], json.loads(response["body"])

    return send


@pytest.mark.parametrize("name", ["a list", "events not a list", "a 5,000-digit number", "50,000 deep"])
def test_bodies_that_are_not_a_line_payload_are_400(deliver, name):
    body = {"a list": b"[]", "events not a list": b'{"events": "follow"}',
            "a 5,000-digit number": b'{"events": [], "n": ' + b"9" * 5000 + b"}",
            "50,000 deep": b'{"events": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"}[name]
    status, answer = deliver(body)
    assert status == 400 and answer["message"], name


def test_one_bad_event_is_refused_and_the_good_ones_are_handled(deliver):
    good = line_event("follow", user_id=MEI, event_id="good-1")
    bad_source = {**line_event("follow", user_id=MEI, event_id="bad-1"), "source": "U" + "a1" * 16}
    bad_message = {**line_event("message", user_id=MEI, event_id="bad-2", text="hi"), "message": "hi"}
    bad_time = {**line_event("follow", user_id=MEI, event_id="bad-3"), "timestamp": 1e300}
    body = json.dumps({"destination": "x", "events": [bad_source, good, bad_message, bad_time, "junk"]}).encode()
    status, answer = deliver(body)
    assert status == 200
    outcomes = answer["handled"]
    assert outcomes[1] == "followed"
    assert all(o.startswith("refused: malformed event") for i, o in enumerate(outcomes) if i != 1), outcomes
    assert "source" in outcomes[0] and "message" in outcomes[2] and "timestamp" in outcomes[3]
