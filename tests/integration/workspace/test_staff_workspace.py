"""Staff in LINE against moto: link a LINE account, sign in with its ID token, read and answer customers."""

from __future__ import annotations

import json

import pytest

from infra.line_login import LocalLineLogin
from omo2c import wiring
from omo2c.access.id_token import IdTokenVerifier
from omo2c.core.settings import Settings
from tests.conftest import LOCAL_SECRETS
from tests.support.aws import FakeContext, http_event, load_handler
from tests.support.events import line_body, line_event, line_signature
from tests.support.fakes import FakeMessenger, FakeSms

SECRET = LOCAL_SECRETS["LINE_CHANNEL_SECRET"]
MEI_STAFF = "U" + "5a" * 16  # 林小美's own LINE account
LEE_STAFF = "U" + "6b" * 16
MANAGER = "U" + "7c" * 16
OTHER_MANAGER = "U" + "8d" * 16
CUSTOMER = "U" + "a1" * 16


@pytest.fixture
def stack(aws, lambda_context):
    login = LocalLineLogin()
    settings = Settings.from_env()
    messenger = FakeMessenger()
    services = wiring.Services(settings, messenger=messenger, sms=FakeSms())
    services.id_tokens = IdTokenVerifier(settings.line_login_jwks_url, settings.line_login_channel_id,
                                         keys=login.jwks())
    handlers = {name: load_handler(name) for name in (
        "LineWebhookFunction", "StaffApiFunction", "StaffConsoleApiFunction", "AdminAuthorizerFunction",
        "AccessApiFunction", "StatementsApiFunction")}

    class Stack:
        def __init__(self):
            self.messenger, self.services, self.counter = messenger, services, 0

        def line(self, user, kind="message", **fields):
            self.counter += 1
            event = line_event(kind, user_id=user, event_id=f"ev{self.counter}", **fields)
            if kind == "message":
                event["message"]["id"] = f"m{self.counter}"
            body = line_body(event)
            request = http_event("POST", "/line/webhook", route="/line/webhook", body=body, caller=None,
                                 headers={"X-Line-Signature": line_signature(body, SECRET)})
            response = handlers["LineWebhookFunction"].lambda_handler(request, lambda_context, services=services)
            return json.loads(response["body"])["handled"][0]

        def principal(self, bearer):
            request = {"headers": {"authorization": f"Bearer {bearer}"}, "routeKey": "GET /me"}
            verdict = handlers["AdminAuthorizerFunction"].lambda_handler(request, lambda_context, services=services)
            return verdict["context"] if verdict["isAuthorized"] else None

        def call(self, function, method, path, route, caller, body=None, params=None, query=None, headers=None):
            request = http_event(method, path, route=route, caller=caller, path_params=params, query=query,
                                 body=json.dumps(body, ensure_ascii=False) if body is not None else "",
                                 headers={"Content-Type": "application/json", **(headers or {})})
            response = handlers[function].lambda_handler(request, lambda_context, services=services)
            body = response.get("body") or ""
            return response["statusCode"], (json.loads(body) if body.startswith(("{", "[")) else body)

        def admin(self, method, path, route, body=None, params=None):
            return self.call("StaffApiFunction", method, path, route, {"role": "admin"}, body, params)

        def me(self, caller, method, path, route, body=None, params=None, query=None, headers=None):
            return self.call("StaffConsoleApiFunction", method, path, route, caller, body, params, query, headers)

        def staff(self, staff_id, name, store, line_user, role="staff"):
            status, _ = self.admin("PUT", f"/staff/{staff_id}", "/staff/{staff_id}",
                                   {"name": name, "store_id": store, "role": role}, {"staff_id": staff_id})
            assert status in (200, 201)
            status, code = self.admin("POST", f"/staff/{staff_id}/link-code", "/staff/{staff_id}/link-code",
                                      params={"staff_id": staff_id})
            assert status == 201 and code["url"].startswith("https://line.me/R/oaMessage/")
            assert self.line(line_user, text=code["message"]) == "staff linked"
            caller = self.principal(login.issue(line_user))
            assert caller["staff_id"] == staff_id and caller["role"] == role
            return caller

    stack = Stack()
    for store in ("ST01", "ST02"):
        stack.admin("PUT", f"/stores/{store}", "/stores/{store_id}", {"name": f"{store} 店"}, {"store_id": store})
    stack.login = login
    return stack


def _qr_message(stack, staff_id):
    _, link = stack.call("StaffApiFunction", "GET", f"/staff/{staff_id}/qr", "/staff/{staff_id}/qr", {"role": "admin"},
                         params={"staff_id": staff_id}, headers={"Accept": "application/json"})
    return link["message"]


def test_a_staff_member_signs_in_with_line_reads_and_answers_their_customer(stack):
    mei = stack.staff("S001", "林小美", "ST01", MEI_STAFF)
    assert stack.line(CUSTOMER, "follow") == "followed"
    assert stack.line(CUSTOMER, text=_qr_message(stack, "S001")) == "bound"
    assert stack.line(CUSTOMER, text="請問有貨嗎？") == "message kept"
    assert stack.line(CUSTOMER, text="我下午會去店裡") == "message kept"
    told = [p for p in stack.messenger.pushes if p[0] == MEI_STAFF]
    assert len(told) == 1 and "傳了訊息給您" in told[0][1][0] and "/console#/customers/" in told[0][1][0]

    status, me = stack.me(mei, "GET", "/me", "/me")
    assert status == 200 and me["name"] == "林小美" and me["store_name"] == "ST01 店" and me["qr"]["url"]
    _, customers = stack.me(mei, "GET", "/me/customers", "/me/customers")
    [customer] = customers["customers"]
    assert customer["unread"] == 2 and customer["line_followed"] is True
    member_id = customer["member_id"]
    params = {"member_id": member_id}
    status, messages = stack.me(mei, "GET", f"/me/conversations/{member_id}/messages",
                                "/me/conversations/{member_id}/messages", params=params)
    assert status == 200 and [m["text"] for m in messages["messages"]] == ["我下午會去店裡", "請問有貨嗎？"]

    route = "/me/conversations/{member_id}/messages"
    key = {"Idempotency-Key": "tap-1"}
    status, sent = stack.me(mei, "POST", f"/me/conversations/{member_id}/messages", route,
                            {"text": "有的，幫您保留！"}, params, headers=key)
    assert status == 201 and sent["status"] == "sent"
    status, again = stack.me(mei, "POST", f"/me/conversations/{member_id}/messages", route,
                             {"text": "有的，幫您保留！"}, params, headers=key)
    assert status == 200 and again["message_id"] == sent["message_id"]
    [(to, [message], _)] = stack.messenger.rich_pushes
    assert to == CUSTOMER and message["sender"]["name"] == "林小美" and message["text"] == "有的，幫您保留！"

    status, card = stack.me(mei, "POST", f"/me/conversations/{member_id}/messages", route,
                            {"product": {"url": "https://shop.example.com/p/42?color=red", "title": "羊毛圍巾",
                                         "image_url": "https://shop.example.com/42.jpg", "price": 1280}}, params)
    assert status == 201 and card["product"]["short_url"].startswith("http")
    flex = stack.messenger.rich_pushes[-1][1][0]
    assert flex["type"] == "flex" and flex["sender"]["name"] == "林小美"
    assert flex["contents"]["footer"]["contents"][0]["action"]["uri"] == card["product"]["short_url"]

    _, kpis = stack.me(mei, "GET", "/me/kpis", "/me/kpis", query={"month": sent["at"][:7]})
    assert kpis["bound_customers"] == 1 and kpis["new_bindings"] == 1 and kpis["messages_answered"] == 2
    assert kpis["median_first_reply_seconds"] is not None


def test_staff_see_only_their_own_customers_and_managers_only_their_store(stack):
    stack.staff("S001", "林小美", "ST01", MEI_STAFF)
    lee = stack.staff("S002", "李大同", "ST01", LEE_STAFF)
    manager = stack.staff("M001", "陳店長", "ST01", MANAGER, role="manager")
    other_manager = stack.staff("M002", "張店長", "ST02", OTHER_MANAGER, role="manager")
    stack.line(CUSTOMER, "follow")
    stack.line(CUSTOMER, text=_qr_message(stack, "S001"))
    member_id = stack.services.members.bound_to("S001")[0].member_id
    params = {"member_id": member_id}
    route = "/me/customers/{member_id}"

    assert stack.me(lee, "GET", f"/me/customers/{member_id}", route, params=params)[0] == 403
    assert stack.me(lee, "GET", "/me/customers/nobody", route, params={"member_id": "nobody"})[0] == 403
    assert stack.me(lee, "POST", f"/me/conversations/{member_id}/messages", "/me/conversations/{member_id}/messages",
                    {"text": "hi"}, params)[0] == 403
    assert stack.me(lee, "GET", "/me/customers", "/me/customers")[1]["customers"] == []
    assert stack.me(manager, "GET", f"/me/customers/{member_id}", route, params=params)[0] == 200
    assert stack.me(other_manager, "GET", f"/me/customers/{member_id}", route, params=params)[0] == 403

    assert stack.call("StaffApiFunction", "GET", "/staff/S001/customers", "/staff/{staff_id}/customers",
                      manager, params={"staff_id": "S001"})[0] == 200
    assert stack.call("StaffApiFunction", "GET", "/staff/S001/customers", "/staff/{staff_id}/customers",
                      other_manager, params={"staff_id": "S001"})[0] == 403
    assert stack.call("StaffApiFunction", "GET", "/staff/S001/customers", "/staff/{staff_id}/customers",
                      lee, params={"staff_id": "S001"})[0] == 403
    assert stack.call("StaffApiFunction", "PUT", "/stores/ST01", "/stores/{store_id}", manager,
                      {"name": "x"}, {"store_id": "ST01"})[0] == 403
    assert stack.call("StaffApiFunction", "PUT", "/staff/S009", "/staff/{staff_id}", manager,
                      {"name": "新人", "store_id": "ST01", "role": "manager"}, {"staff_id": "S009"})[0] == 403
    assert stack.call("StaffApiFunction", "PUT", "/staff/S009", "/staff/{staff_id}", manager,
                      {"name": "新人", "store_id": "ST02"}, {"staff_id": "S009"})[0] == 403
    assert stack.call("StaffApiFunction", "PUT", "/staff/S009", "/staff/{staff_id}", manager,
                      {"name": "新人", "store_id": "ST01"}, {"staff_id": "S009"})[0] == 201
    month = {"month": "2026-12"}
    assert stack.call("StatementsApiFunction", "GET", "/stores/ST02/statement", "/stores/{store_id}/statement",
                      manager, params={"store_id": "ST02"}, query=month)[0] == 403
    assert stack.call("StatementsApiFunction", "GET", "/staff/S001/statement", "/staff/{staff_id}/statement",
                      lee, params={"staff_id": "S001"}, query=month)[0] == 403
    assert stack.call("StatementsApiFunction", "GET", "/staff/S001/statement", "/staff/{staff_id}/statement",
                      manager, params={"staff_id": "S001"}, query=month)[0] == 200
    assert stack.me(lee, "GET", "/me/inbox", "/me/inbox")[0] == 403
    assert stack.me({"role": "admin"}, "GET", "/me", "/me")[0] == 403


def test_link_codes_work_once_and_unlinking_ends_sign_in(stack):
    stack.admin("PUT", "/staff/S001", "/staff/{staff_id}", {"name": "林小美", "store_id": "ST01"},
                {"staff_id": "S001"})
    _, code = stack.admin("POST", "/staff/S001/link-code", "/staff/{staff_id}/link-code", params={"staff_id": "S001"})
    assert stack.line(MEI_STAFF, text=code["message"]) == "staff linked"
    assert "不是顧客綁定" in stack.messenger.last_reply()
    assert stack.line(LEE_STAFF, text=code["message"]) == "unknown link code"
    assert stack.line(LEE_STAFF, text="員工帳號連結 LINK-" + "a" * 12) == "unknown link code"
    token = stack.login.issue(MEI_STAFF)
    assert stack.principal(token)["staff_id"] == "S001"
    assert stack.principal(stack.login.issue(LEE_STAFF)) is None
    status, unlinked = stack.admin("DELETE", "/staff/S001/line", "/staff/{staff_id}/line", params={"staff_id": "S001"})
    assert status == 200 and unlinked["line_linked"] is False
    assert stack.principal(token) is None


def test_api_keys_are_shown_once_scoped_and_revocable(stack):
    access = "AccessApiFunction"
    status, key = stack.call(access, "POST", "/api-keys", "/api-keys", {"role": "admin"},
                             {"name": "BI 報表", "role": "manager", "store_id": "ST01"})
    assert status == 201 and key["key"].startswith("omo_")
    _, listed = stack.call(access, "GET", "/api-keys", "/api-keys", {"role": "admin"})
    assert "key" not in listed["keys"][0] and key["key"] not in json.dumps(listed)
    caller = stack.principal(key["key"])
    assert caller == {"role": "manager", "staff_id": "", "store_id": "ST01", "key_id": key["key_id"]}
    assert stack.principal(key["key"][:-1] + ("A" if key["key"][-1] != "A" else "B")) is None
    assert stack.call(access, "POST", "/api-keys", "/api-keys", caller, {"name": "x", "role": "admin"})[0] == 403
    stack.call(access, "DELETE", f"/api-keys/{key['key_id']}", "/api-keys/{key_id}", {"role": "admin"},
               params={"key_id": key["key_id"]})
    assert stack.principal(key["key"]) is None
    assert stack.principal(LOCAL_SECRETS["OMO_ADMIN_TOKEN"])["role"] == "admin"


def test_a_reply_line_refused_for_now_is_sent_once_when_retried_with_its_key(stack):
    from omo2c.channels.line import LineUnavailable

    mei = stack.staff("S001", "林小美", "ST01", MEI_STAFF)
    stack.line(CUSTOMER, "follow")
    stack.line(CUSTOMER, text=_qr_message(stack, "S001"))
    member_id = stack.services.members.bound_to("S001")[0].member_id
    path, route = f"/me/conversations/{member_id}/messages", "/me/conversations/{member_id}/messages"
    stack.messenger.failures.append(LineUnavailable("LINE answered 429"))
    key = {"Idempotency-Key": "tap-9"}
    status, error = stack.me(mei, "POST", path, route, {"text": "稍等我一下"}, {"member_id": member_id}, headers=key)
    assert status == 503 and "Idempotency-Key" in error["message"]
    assert stack.me(mei, "POST", path, route, {"text": "稍等我一下"}, {"member_id": member_id}, headers=key)[0] == 201
    assert stack.me(mei, "POST", path, route, {"text": "稍等我一下"}, {"member_id": member_id}, headers=key)[0] == 200
    assert len(stack.messenger.rich_pushes) == 1
    stack.line(CUSTOMER, text="取消訂閱")
    card = {"product": {"url": "https://shop.example.com/p/1", "title": "圍巾", "price": 990}}
    status, refused = stack.me(mei, "POST", path, route, card, {"member_id": member_id})
    assert status == 409 and "opted out" in refused["message"] and len(stack.messenger.rich_pushes) == 1
    messages = stack.me(mei, "GET", path, route, params={"member_id": member_id})[1]["messages"]
    assert [(m["text"], m["status"]) for m in messages] == [("稍等我一下", "sent")]


def test_a_customer_with_no_staff_member_lands_in_the_store_inbox_its_manager_answers(stack):
    stack.staff("S001", "林小美", "ST01", MEI_STAFF)
    manager = stack.staff("M001", "陳店長", "ST01", MANAGER, role="manager")
    other_manager = stack.staff("M002", "張店長", "ST02", OTHER_MANAGER, role="manager")
    stack.line(CUSTOMER, "follow")
    stack.line(CUSTOMER, text=_qr_message(stack, "S001"))
    status, _ = stack.admin("POST", "/staff/S001/leave", "/staff/{staff_id}/leave", {"transfer_to_store_id": "ST01"},
                            {"staff_id": "S001"})
    assert status == 200
    assert stack.line(CUSTOMER, "message", text="還有人在嗎？") == "message kept"
    assert not [p for p in stack.messenger.pushes if p[0] == MEI_STAFF]
    _, inbox = stack.me(manager, "GET", "/me/inbox", "/me/inbox")
    [waiting] = inbox["conversations"]
    assert inbox["store_id"] == "ST01" and waiting["unread"] == 1
    assert stack.me(other_manager, "GET", "/me/inbox", "/me/inbox")[1]["conversations"] == []
    member_id = waiting["member_id"]
    status, _ = stack.me(manager, "POST", f"/me/conversations/{member_id}/messages",
                         "/me/conversations/{member_id}/messages", {"text": "您好，我是店長，請問需要什麼協助？"},
                         {"member_id": member_id})
    assert status == 201
    assert stack.me(manager, "GET", "/me/inbox", "/me/inbox")[1]["conversations"] == []
    sticker = line_event("message", user_id=CUSTOMER, event_id="sticker-1")
    sticker["message"] = {"id": "sticker-1", "type": "sticker", "packageId": "446", "stickerId": "1988"}
    body = line_body(sticker)
    request = http_event("POST", "/line/webhook", route="/line/webhook", body=body, caller=None,
                         headers={"X-Line-Signature": line_signature(body, SECRET)})
    for _ in range(2):  # LINE redelivers: kept once
        load_handler("LineWebhookFunction").lambda_handler(request, FakeContext(), services=stack.services)
    messages = stack.me(manager, "GET", f"/me/conversations/{member_id}/messages",
                        "/me/conversations/{member_id}/messages", params={"member_id": member_id})[1]["messages"]
    assert [m["kind"] for m in messages] == ["sticker", "text", "text"]
