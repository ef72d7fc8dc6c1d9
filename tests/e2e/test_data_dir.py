"""`omo2c local --data-dir DIR`: stop it, start it again on the same DIR, and the data is all there."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
import requests

from infra.template import REGION, Names, load
from tests.e2e.conftest import LocalStack, Run
from tests.support.events import line_body, line_event, line_signature, pos_order, sample, signed_headers

pytestmark = pytest.mark.e2e
USER = "U" + "d" * 32
LATE = [(f"E2E-LATE-{i}", f"0977-5{i:02}-000") for i in range(40)]


class DataRun(Run):
    """A local run on ``data_dir``; its scheduler is read straight from its AWS endpoint."""

    def __init__(self, workdir: Path, data_dir: Path, *extra: str) -> None:
        super().__init__(workdir, "--data-dir", str(data_dir), *extra)

    def scheduler(self):
        endpoint = re.search(r"AWS endpoints: (http://[\d.:]+)", self.ready_line).group(1)
        return boto3.client("scheduler", endpoint_url=endpoint, region_name=REGION,
                            aws_access_key_id="local", aws_secret_access_key="local")


def _follow(stack: LocalStack, event_id: str):
    """A LINE follow, answered with a welcome reply, once per webhookEventId (the first loads line-bot-sdk)."""
    body = line_body(line_event("follow", user_id=USER, event_id=event_id))
    return requests.post(f"{stack.url}/line/webhook", data=body, timeout=60, headers={
        "X-Line-Signature": line_signature(body, "local-line-channel-secret"), "Content-Type": "application/json"})


def _replies(stack: LocalStack) -> list:
    return [c for c in stack.get("/_local/outbox").json()["line"] if c["endpoint"] == "reply"]


def _read_back(stack: LocalStack, campaign_id: str) -> dict:
    def admin(path: str, **params: str) -> dict:
        response = stack.get(path, params=params, headers=stack.admin)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    link = stack.get("/staff/S701/qr", headers={**stack.admin, "Accept": "application/json"})
    assert link.status_code == 200, link.text
    return {"member": admin("/members", phone="+886977111222"), "staff_link": link.json(),
            "campaign": admin(f"/campaigns/{campaign_id}"), "attribution": admin("/orders/pos/E2E-DATA-1/attribution"),
            "statement": [line for line in admin("/staff/S701/statement", month=datetime.now(tz=UTC).strftime("%Y-%m"))
                          ["lines"] if line["order_id"] == "E2E-DATA-1"]}


def _pos_orders(stack: LocalStack, *orders: tuple[str, str]) -> None:
    """One signed POS webhook with an order per (order id, phone), all sold by S701 at ST71."""
    events = [pos_order(f"e2e-{order_id}", phone=phone, order_id=order_id, total=900) for order_id, phone in orders]
    for event in events:
        event.update(store_id="ST71", staff_id="S701")
    body = json.dumps({"events": events}).encode()
    assert stack.post("/webhooks/pos", data=body, headers=signed_headers(body, "local-pos-secret")).status_code == 202


def _member(stack: LocalStack, phone: str):
    return stack.get("/members", params={"phone": phone}, headers=stack.admin)


def _put_staff(stack: LocalStack, staff_id: str, name: str) -> int:
    response = requests.put(f"{stack.url}/staff/{staff_id}", json={"name": name, "store_id": "ST71"},
                            headers=stack.admin, timeout=10)
    assert response.status_code in (200, 201), response.text  # 422 if the store were gone
    return response.status_code


def test_members_staff_stores_campaigns_ledger_idempotency_and_schedules_survive_a_restart(tmp_path):
    data_dir, workdir = tmp_path / "data", tmp_path / "work"
    workdir.mkdir()
    group = Names(load()).ref(next(iter(load().schedule_groups)))
    fields = ("ScheduleExpression", "ScheduleExpressionTimezone", "Target", "State")
    first = DataRun(workdir, data_dir)
    try:
        stack = first.stack
        assert requests.put(f"{stack.url}/stores/ST71", json={"name": "復興店", "phone": "(02) 2700-0000"},
                            headers=stack.admin, timeout=10).status_code in (200, 201)
        assert _put_staff(stack, "S701", "陳店員") == 201
        _pos_orders(stack, ("E2E-DATA-1", "0977-111-222"))
        campaign = stack.post("/campaigns", json=sample("notify/campaign.json"), headers=stack.admin)
        assert campaign.status_code == 201, campaign.text
        campaign_id = campaign.json()["campaign_id"]
        assert _follow(stack, "01JDATADIRLINEEVENT0000001").status_code == 200
        assert len(_replies(stack)) == 1
        stack.wait_for(lambda: stack.get("/orders/pos/E2E-DATA-1/attribution", headers=stack.admin).json()
                       .get("entries"))
        before = _read_back(stack, campaign_id)
        schedule = first.scheduler().get_schedule(Name=f"campaign-{campaign_id}", GroupName=group)
        _pos_orders(stack, *LATE)  # still in the queues when the stop begins
        assert "data saved in" in first.stop()
    finally:
        first.kill()

    second = DataRun(workdir, data_dir)
    try:
        stack = second.stack
        assert re.search(r"data in .*: [1-9]\d* items and 1 schedules restored", second.ready_line), second.ready_line
        assert _read_back(stack, campaign_id) == before
        assert before["member"]["orders"]["count"] == 1 and "陳店員" in before["staff_link"]["message"]
        assert before["statement"] and before["attribution"]["entries"]
        missing = [phone for _, phone in LATE if _member(stack, f"+886{phone[1:].replace('-', '')}").status_code != 200]
        assert missing == [], "the graceful stop drains the queues before its save"
        again = second.scheduler().get_schedule(Name=f"campaign-{campaign_id}", GroupName=group)
        assert {k: again[k] for k in fields} == {k: schedule[k] for k in fields}
        assert _follow(stack, "01JDATADIRLINEEVENT0000001").status_code == 200
        assert _replies(stack) == []  # the idempotency record came back: the redelivery is not answered again
        assert _follow(stack, "01JDATADIRLINEEVENT0000002").status_code == 200
        assert len(_replies(stack)) == 1
        assert _put_staff(stack, "S702", "林店員") == 201
        stack.wait_for(lambda: "S702" in (data_dir / "state.json").read_text(), timeout=10)
    finally:
        second.kill()  # a crash: no graceful stop, only the periodic save

    third = DataRun(workdir, data_dir, "--journey")
    try:
        assert _put_staff(third.stack, "S702", "林店員") == 200, "the write before the crash was kept"
        assert "Journey skipped" in third.stop()  # its campaign already reached the same customers
    finally:
        third.kill()
