"""The local run over HTTP: wiring from the template, the first slice end to end."""

from __future__ import annotations

import json
import time

import pytest
import requests

from infra.journey import Journey
from infra.template import load
from omo2c.sources.signatures import omo_signature
from tests.support.events import pos_order

pytestmark = pytest.mark.e2e


def test_serves_every_route_and_polls_every_queue_the_template_declares(local_stack):
    template = load()
    wiring = local_stack.get("/_local/wiring").json()
    assert wiring["routes"] == sorted(route.key for route in template.routes)
    consumed = {source.queue for function in template.functions.values() for source in function.queues}
    assert set(wiring["pollers"]) == consumed
    assert consumed == {q for q, queue in template.queues.items() if not q.endswith("DeadLetterQueue")}


def test_unknown_route_is_404_and_admin_routes_need_the_token(local_stack):
    assert local_stack.get("/nope").status_code == 404
    assert local_stack.get("/members", params={"phone": "0955-000-000"}).status_code == 401
    wrong = local_stack.get("/members", params={"phone": "0955-000-000"}, headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 403


def test_signed_pos_order_becomes_a_member_with_the_order_counted(local_stack):
    event = pos_order("e2e-slice-1", phone="0966-555-444", order_id="E2E-1", total=880)
    body = json.dumps(event).encode()
    ts = str(int(time.time()))
    headers = {"X-Omo-Timestamp": ts, "X-Omo-Signature": omo_signature("local-pos-secret", ts, body),
               "Content-Type": "application/json"}
    unsigned = local_stack.post("/webhooks/pos", data=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    accepted = local_stack.post("/webhooks/pos", data=body, headers=headers)
    assert accepted.status_code == 202 and accepted.json() == {"accepted": ["e2e-slice-1"]}

    def counted():
        found = local_stack.get("/members", params={"phone": "+886966555444"}, headers=local_stack.admin)
        return found.json() if found.status_code == 200 else None

    member = local_stack.wait_for(counted)
    assert member["orders"] == {"count": 1, "net_spent": "880", "first_order_at": member["orders"]["first_order_at"],
                                "last_order_at": member["orders"]["last_order_at"]}
    again = local_stack.post("/webhooks/pos", data=body, headers=headers)
    assert again.status_code == 202
    time.sleep(1.5)
    assert counted()["orders"]["count"] == 1


def test_line_stand_in_records_what_line_bot_sdk_sends(local_stack):
    from linebot.v3.messaging import ApiClient, Configuration, MessagingApi, PushMessageRequest, TextMessage

    config = Configuration(host=f"{local_stack.url}/_local/line", access_token="local-line-access-token")
    with ApiClient(config) as client:
        MessagingApi(client).push_message(PushMessageRequest(to="U" + "a" * 32, messages=[TextMessage(text="hi")]),
                                          x_line_retry_key="6f5c1a54-0c43-4c4a-9c61-3a4f3e1f0001")
    calls = local_stack.get("/_local/outbox").json()["line"]
    assert any(c["endpoint"] == "push" and c["messages"][0].get("text") == "hi" for c in calls)


def test_every_admin_route_in_the_template_refuses_a_request_without_the_token(local_stack):
    protected = [route for route in load().routes if route.protected]
    assert len(protected) >= 15
    for route in protected:
        path = route.path.replace("{", "").replace("}", "")
        response = requests.request(route.method, f"{local_stack.url}{path}", timeout=10)
        assert response.status_code == 401, route.key


def test_line_outage_is_retried_through_the_queue_and_delivered_once(local_stack):
    requests.post(f"{local_stack.url}/_local/line/_faults", json={"status": 429, "count": 2}, timeout=10)
    requests.delete(f"{local_stack.url}/_local/outbox", timeout=10)
    staff = {"name": "林店長", "store_id": None}
    requests.put(f"{local_stack.url}/staff/S900", json=staff, headers=local_stack.admin, timeout=10)
    link = requests.get(f"{local_stack.url}/staff/S900/qr", headers={**local_stack.admin, "Accept": "application/json"},
                        timeout=10).json()
    journey = Journey(local_stack.url, local_stack.admin_token, say=lambda _: None)
    user = "U" + "9" * 32
    journey.line(user, kind="follow")
    journey.line(user, link["message"])

    def welcomed():
        calls = requests.get(f"{local_stack.url}/_local/outbox", timeout=10).json()["line"]
        return [c for c in calls if c["endpoint"] == "push" and c["to"] == user]

    pushes = local_stack.wait_for(welcomed, timeout=40)
    time.sleep(2)
    assert len(welcomed()) == 1 and "林店長" in pushes[0]["messages"][0]["text"]
