"""The LINE journey against moto: QR binding, phone proof and merge, consent, staff admin."""

from __future__ import annotations

import base64
import json
import re

import pytest

from omo2c import wiring
from omo2c.core.settings import Settings
from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.members.storage import MemberItem, member_key
from omo2c.sources.canonical import CanonicalEvent
from omo2c.staff.api_models import QrLink
from tests.conftest import LOCAL_SECRETS
from tests.support.aws import http_event, load_handler
from tests.support.events import line_body, line_event, line_signature, pos_order
from tests.support.fakes import FakeMessenger, FakeSms

SECRET = LOCAL_SECRETS["LINE_CHANNEL_SECRET"]
ADMIN = {"Authorization": "Bearer test-admin-token", "Content-Type": "application/json"}
MEI = "U" + "a1" * 16
OTHER = "U" + "b2" * 16


@pytest.fixture
def line(aws, lambda_context, monkeypatch):
    messenger, sms = FakeMessenger(), FakeSms()
    services = wiring.Services(Settings.from_env(), messenger=messenger, sms=sms)
    webhook = load_handler("LineWebhookFunction")
    staff_api = load_handler("StaffApiFunction")
    members_api = load_handler("MembersApiFunction")

    class Line:
        def __init__(self):
            self.messenger, self.sms, self.counter, self.services = messenger, sms, 0, services

        def send(self, *events, signature=None):
            body = line_body(*events)
            headers = {"X-Line-Signature": signature or line_signature(body, SECRET),
                       "Content-Type": "application/json"}
            event = http_event("POST", "/line/webhook", route="/line/webhook", body=body, headers=headers)
            return webhook.lambda_handler(event, lambda_context, services=services)

        def say(self, user, text, event_id=None):
            self.counter += 1
            return self.send(line_event("message", user_id=user, text=text, event_id=event_id or f"ev{self.counter}"))

        def admin(self, method, path, route, params, body=None, accept="application/json"):
            event = http_event(method, path, route=route, headers={**ADMIN, "Accept": accept},
                               body=json.dumps(body) if body is not None else "", path_params=params)
            handler = members_api if route.startswith("/members") else staff_api
            return handler.lambda_handler(event, lambda_context, services=services)

        def member(self, **query):
            event = http_event("GET", "/members", route="/members", headers=ADMIN, query=query)
            response = members_api.lambda_handler(event, lambda_context, services=services)
            return json.loads(response["body"]) if response["statusCode"] == 200 else None

    return Line()


def setup_staff(line, staff_id="S001", name="王小明", store="ST01"):
    line.admin("PUT", f"/stores/{store}", "/stores/{store_id}", {"store_id": store},
               {"name": "信義店", "phone": "(02) 2345-6789"})
    created = line.admin("PUT", f"/staff/{staff_id}", "/staff/{staff_id}", {"staff_id": staff_id},
                         {"name": name, "store_id": store})
    assert created["statusCode"] in (200, 201)
    link = line.admin("GET", f"/staff/{staff_id}/qr", "/staff/{staff_id}/qr", {"staff_id": staff_id})
    return QrLink.model_validate_json(link["body"]).model_dump()  # the JSON alternative the document declares


def test_qr_scan_binds_and_a_proved_phone_merges_with_the_pos_member(line):
    wiring.production().resolver.record(CanonicalEvent.model_validate(
        {**pos_order("pos-earlier", phone="0955-888-999", order_id="P-1", total=500), "source": "pos"}))
    link = setup_staff(line)
    assert link["url"].startswith("https://line.me/R/oaMessage/%40omo2c/?")
    assert line.send(line_event("follow", user_id=MEI, event_id="f1"))["statusCode"] == 200
    line.say(MEI, link["message"])
    assert "王小明" in line.messenger.last_reply() and "信義店" in line.messenger.last_reply()
    bound = line.member(line_user_id=MEI)
    assert bound["binding"]["staff_id"] == "S001" and bound["line"]["followed"] is True

    line.say(OTHER, "0955-888-999")
    line.say(MEI, "0955888999")
    assert "***999" in line.messenger.last_reply()
    codes = [re.search(r"\d{6}", text).group(0) for phone, text in line.sms.sent if phone == "+886955888999"]
    assert len(codes) == 2
    line.say(OTHER, "000000" if codes[0] != "000000" else "111111")
    assert line.member(line_user_id=OTHER)["orders"]["count"] == 0

    line.say(MEI, codes[1])
    assert "驗證完成" in line.messenger.last_reply()
    merged = line.member(phone="0955888999")
    assert merged == line.member(line_user_id=MEI)
    assert merged["orders"]["count"] == 1 and merged["binding"]["staff_id"] == "S001"
    customers = line.admin("GET", "/staff/S001/customers", "/staff/{staff_id}/customers", {"staff_id": "S001"})
    assert [c["member_id"] for c in json.loads(customers["body"])["customers"]] == [merged["member_id"]]


def test_wrong_signature_and_redelivery_change_nothing(line):
    follow = line_event("follow", user_id=MEI, event_id="same-event")
    assert line.send(follow, signature="bm90LXRoZS1zaWduYXR1cmU=")["statusCode"] == 401
    assert line.member(line_user_id=MEI) is None
    line.send(follow)
    line.send(follow)
    assert len(line.messenger.replies) == 1


def test_cooldown_keeps_the_first_staff_and_rotated_codes_reply_politely(line):
    first = setup_staff(line)
    second = setup_staff(line, "S002", "陳大文")
    line.say(MEI, first["message"])
    line.say(MEI, second["message"])
    assert "王小明" in line.messenger.last_reply() and "30" in line.messenger.last_reply()
    assert line.member(line_user_id=MEI)["binding"]["staff_id"] == "S001"
    rotated = json.loads(line.admin("POST", "/staff/S002/rotate-code", "/staff/{staff_id}/rotate-code",
                                    {"staff_id": "S002"}, {})["body"])
    assert rotated["message"] != second["message"]
    line.say(OTHER, second["message"])
    assert "已經更新" in line.messenger.last_reply()
    assert line.member(line_user_id=OTHER)["binding"] is None


def test_staff_leaving_moves_bindings_to_the_transfer_target(line):
    first = setup_staff(line)
    setup_staff(line, "S002", "陳大文")
    line.say(MEI, first["message"])
    left = line.admin("POST", "/staff/S001/leave", "/staff/{staff_id}/leave", {"staff_id": "S001"},
                      {"transfer_to_staff_id": "S002"})
    assert json.loads(left["body"])["moved_bindings"] == 1
    assert line.member(line_user_id=MEI)["binding"]["staff_id"] == "S002"
    bad = line.admin("POST", "/staff/S002/leave", "/staff/{staff_id}/leave", {"staff_id": "S002"}, {})
    assert bad["statusCode"] == 422


def test_opt_out_and_back_in(line):
    line.say(MEI, "取消訂閱")
    assert line.member(line_user_id=MEI) is not None
    member = wiring.production().members.find_by_identifier(Identifier(IdentifierKind.LINE_USER, MEI))
    assert MemberItem.get(*member_key(member.member_id)).opted_out is True
    line.say(MEI, "訂閱")
    assert MemberItem.get(*member_key(member.member_id)).opted_out is False


def test_qr_png_and_validation(line):
    setup_staff(line)
    png = line.admin("GET", "/staff/S001/qr", "/staff/{staff_id}/qr", {"staff_id": "S001"}, accept="image/png")
    assert png["statusCode"] == 200 and png["isBase64Encoded"]
    assert base64.b64decode(png["body"]).startswith(b"\x89PNG")
    bad = line.admin("PUT", "/staff/S009", "/staff/{staff_id}", {"staff_id": "S009"}, {"name": ""})
    assert bad["statusCode"] == 422
    missing = line.admin("GET", "/staff/NOPE/qr", "/staff/{staff_id}/qr", {"staff_id": "NOPE"})
    assert missing["statusCode"] == 404


def test_follow_unfollow_and_follow_again_keep_one_member_with_its_line_status(line):
    line.send(line_event("follow", user_id=MEI, event_id="fu-1"))
    first = line.member(line_user_id=MEI)
    assert first["line"]["followed"] is True
    line.send(line_event("unfollow", user_id=MEI, event_id="fu-2"))
    assert line.member(line_user_id=MEI)["line"]["followed"] is False
    line.send(line_event("follow", user_id=MEI, event_id="fu-3"))
    again = line.member(line_user_id=MEI)
    assert again["line"]["followed"] is True and again["member_id"] == first["member_id"]
    line.send(line_event("unfollow", user_id=MEI, event_id="fu-4"))
    line.send(line_event("follow", user_id=MEI, event_id="fu-3"))
    assert line.member(line_user_id=MEI)["line"]["followed"] is False, "a redelivered follow changes nothing"
