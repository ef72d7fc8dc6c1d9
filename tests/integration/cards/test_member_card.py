"""The member card against moto: asked for in LINE, shown as a QR image, scanned at the POS."""

from __future__ import annotations

import base64
import json
import time

import pytest

from omo2c import wiring
from omo2c.cards.model import issue
from omo2c.core.settings import Settings
from tests.conftest import LOCAL_SECRETS
from tests.support.aws import http_event, load_handler, sqs_event
from tests.support.events import line_body, line_event, line_signature, pos_order, signed_headers
from tests.support.fakes import FakeMessenger, FakeSms

LINE_SECRET = LOCAL_SECRETS["LINE_CHANNEL_SECRET"]
POS_SECRET = LOCAL_SECRETS["OMO_SOURCE_SECRET_POS"]
CODE_KEY = LOCAL_SECRETS["OMO_MEMBER_CODE_KEY"]
ADMIN = {"Authorization": "Bearer test-admin-token"}
MEI = "U" + "d4" * 16


@pytest.fixture
def stack(aws, lambda_context):
    messenger = FakeMessenger()
    services = wiring.Services(Settings.from_env(), messenger=messenger, sms=FakeSms())
    handlers = {name: load_handler(name) for name in (
        "LineWebhookFunction", "IngestApiFunction", "IngestWorkerFunction", "MembersApiFunction", "MemberCardFunction")}

    class Stack:
        def __init__(self):
            self.messenger, self.services, self.counter = messenger, services, 0

        def line(self, kind, **fields):
            self.counter += 1
            body = line_body(line_event(kind, user_id=MEI, event_id=f"card-ev{self.counter}", **fields))
            headers = {"X-Line-Signature": line_signature(body, LINE_SECRET), "Content-Type": "application/json"}
            event = http_event("POST", "/line/webhook", route="/line/webhook", body=body, headers=headers)
            response = handlers["LineWebhookFunction"].lambda_handler(event, lambda_context, services=services)
            assert response["statusCode"] == 200, response["body"]
            return json.loads(response["body"])["handled"]

        def card(self):
            """The code of the last card LINE was asked to reply with."""
            (message,) = self.messenger.rich_replies[-1][1]
            return message, message["contents"]["hero"]["url"].rsplit("/", 1)[-1]

        def order(self, event):
            body = json.dumps(event).encode()
            request = http_event("POST", "/webhooks/pos", route="/webhooks/{source}", body=body,
                                 headers=signed_headers(body, POS_SECRET), path_params={"source": "pos"})
            return handlers["IngestApiFunction"].lambda_handler(request, lambda_context)

        def drain(self):
            got = aws["sqs"].receive_message(QueueUrl=aws["ingest_url"], MaxNumberOfMessages=10)
            messages = got.get("Messages", [])
            result = handlers["IngestWorkerFunction"].lambda_handler(sqs_event([m["Body"] for m in messages]),
                                                                     lambda_context)
            for m in messages:
                aws["sqs"].delete_message(QueueUrl=aws["ingest_url"], ReceiptHandle=m["ReceiptHandle"])
            return result

        def queued(self):
            attrs = aws["sqs"].get_queue_attributes(QueueUrl=aws["ingest_url"], AttributeNames=["All"])["Attributes"]
            return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

        def member(self, **query):
            event = http_event("GET", "/members", route="/members", headers=ADMIN, query=query)
            response = handlers["MembersApiFunction"].lambda_handler(event, lambda_context)
            return json.loads(response["body"]) if response["statusCode"] == 200 else None

        def image(self, code):
            event = http_event("GET", f"/member-card/{code}", route="/member-card/{code}",
                               path_params={"code": code}, caller=None)
            return handlers["MemberCardFunction"].lambda_handler(event, lambda_context)

    return Stack()


def card_order(code, **customer):
    event = pos_order("pos-card-1", phone=None, name=None, order_id="ST01-77", total=1280)
    event["customer"] = {"member_code": code, **customer}
    return event


def test_the_keyword_replies_with_the_flex_card_and_its_code_is_stored_for_its_member(stack, aws):
    assert stack.line("follow") == ["followed"]
    assert stack.line("message", text=" 會員卡 ") == ["member card"]
    message, code = stack.card()
    assert message["type"] == "flex" and len(code) == 18 and code.isdigit()
    assert message["contents"]["hero"]["url"] == f"http://localhost/member-card/{code}"
    assert "5 分鐘內有效" in json.dumps(message, ensure_ascii=False)
    member_id = stack.member(line_user_id=MEI)["member_id"]
    item = aws["dynamodb"].get_item(TableName=aws["stack"].env["OMO_MEMBERS_TABLE"],
                                    Key={"pk": {"S": f"MEMBERCODE#{code[:8]}"}, "sk": {"S": "CODE"}})["Item"]
    assert item["member_id"] == {"S": member_id} and int(item["expires_at"]["N"]) > time.time() + 300
    assert member_id not in code


def test_the_postback_gives_a_new_card_even_before_a_follow(stack):
    assert stack.line("postback", data="action=member_card") == ["member card"]
    _, first = stack.card()
    assert stack.line("postback", data="action=member_card") == ["member card"]
    _, second = stack.card()
    assert first != second and len(stack.messenger.rich_replies) == 2
    assert stack.member(line_user_id=MEI) is not None


def test_the_image_is_a_png_for_a_valid_code_and_a_bare_404_otherwise(stack):
    stack.line("message", text="會員卡")
    _, code = stack.card()
    shown = stack.image(code)
    assert shown["statusCode"] == 200 and shown["headers"]["Content-Type"] == "image/png"
    assert shown["headers"]["Cache-Control"] == "no-store"
    assert base64.b64decode(shown["body"]).startswith(b"\x89PNG")
    expired = issue(time.time() - 301, CODE_KEY, 300).code
    forged = code[:-1] + str((int(code[-1]) + 1) % 10)
    for bad in (expired, forged, "12345", "abc"):
        answer = stack.image(bad)
        assert answer["statusCode"] == 404 and answer["headers"]["Cache-Control"] == "no-store", bad
        assert json.loads(answer["body"]) == {"error": "not_found", "message": "no such member card"}


def test_a_pos_order_with_the_code_and_no_phone_is_the_card_members_order(stack):
    stack.line("follow")
    stack.line("message", text="會員卡")
    _, code = stack.card()
    answer = stack.order(card_order(code))
    assert answer["statusCode"] == 202, answer["body"]
    assert stack.drain() == {"batchItemFailures": []}
    member = stack.member(line_user_id=MEI)
    assert member["orders"]["count"] == 1 and member["orders"]["net_spent"] == "1280"
    assert not [i for i in member["identities"] if i["kind"] == "phone"]


@pytest.mark.parametrize("make", [
    lambda code: issue(time.time() - 301, CODE_KEY, 300).code,
    lambda code: code[:8] + code[8:13][::-1] + code[13:] if code[8:13] != code[8:13][::-1] else "9" * 18,
    lambda code: issue(time.time(), "not-our-key", 300).code,
], ids=["expired", "altered", "another-key"])
def test_an_expired_or_forged_code_is_422_naming_the_field_and_nothing_is_queued(stack, make):
    stack.line("message", text="會員卡")
    _, code = stack.card()
    answer = stack.order({"events": [card_order(code) | {"event_id": "pos-ok"}, card_order(make(code))]})
    assert answer["statusCode"] == 422
    details = json.loads(answer["body"])["details"]
    assert [(d["field"], d["event_id"]) for d in details] == [("customer.member_code", "pos-card-1")]
    assert stack.queued() == 0


def test_a_signed_code_of_no_stored_card_is_dropped_and_the_order_kept_by_what_else_was_sent(stack):
    stray = issue(time.time(), CODE_KEY, 300).code
    assert stack.order(card_order(stray, pos_member_no="M-9"))["statusCode"] == 202
    assert stack.drain() == {"batchItemFailures": []}
    assert stack.member(pos_member_no="M-9")["orders"]["count"] == 1
