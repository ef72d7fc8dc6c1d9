"""The sample journey of docs/design.md, end to end over HTTP through the local run."""

from __future__ import annotations

import pytest

from infra.journey import play

pytestmark = pytest.mark.e2e


def test_the_journey_from_counter_to_line_to_web_shop(local_stack):
    lines: list[str] = []
    result = play(local_stack.url, local_stack.admin_token, say=lines.append)
    member = result["member"]
    assert member["member_id"] == result["pos_member"]["member_id"], "the LINE member became the POS member"
    assert member["binding"]["staff_id"] == "S001"
    assert {i["kind"] for i in member["identities"]} >= {"phone", "line_user_id", "pos_member_no"}
    statement = result["statement"]
    kinds = [(line["source"], line["kind"], line["rule"]) for line in statement["lines"]]
    assert ("pos", "sale", "pos_checkout_staff") in kinds
    assert ("shopify", "sale", "active_binding") in kinds and ("shopify", "refund", "active_binding") in kinds
    sent = result["campaign"]["sent"]
    line_to = {c["to"] if isinstance(c["to"], str) else tuple(c["to"]): c["messages"][0]["text"] for c in sent["line"]}
    assert "王小明" in line_to[result["campaign"]["lin_user"]]
    assert result["campaign"]["opted_out_user"] not in line_to
    assert len(sent["sms"]) == 1 and sent["sms"][0]["phone_number"] == "+886920333444"
    chat = result["chat"]
    assert chat["kpis"]["clicks"] == 1 and chat["kpis"]["messages_answered"] == 2
    assert "ref=" in chat["landing"] and "color=grey" in chat["landing"]
    outbox = local_stack.get("/_local/outbox").json()["line"]
    replies = [c for c in outbox if c["endpoint"] == "push" and c["to"] == line_user(member)]
    assert [m["sender"]["name"] for c in replies for m in c["messages"] if "sender" in m] == ["王小明", "王小明"]
    assert any(m["type"] == "flex" for c in replies for m in c["messages"])
    month = chat["kpis"]["month"]
    credited = local_stack.get(f"/staff/S001/statement?month={month}", headers=local_stack.admin).json()
    assert any(line["rule"] == "referral_code" for line in credited["lines"])
    email = result["email"]
    assert email["mail"]["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "mailto:" in email["mail"]["headers"]["List-Unsubscribe"] or "/u/" in email["mail"]["headers"][
        "List-Unsubscribe"]
    assert "/r/" in email["mail"]["text"] and "取消訂閱" in email["mail"]["html"]
    first, second = email["report"]["runs"]
    assert first["channels"]["email"]["sent"] >= 1 and first["unsubscribed"] == 1
    assert second["skipped"]["unsubscribed"] == first["skipped"].get("unsubscribed", 0) + 1
    assert second["sent"] == first["sent"] - 1
    dashboards = result["dashboards"]
    trend = {t["month"]: t["pos"].get("TWD", "0") for t in dashboards["kpis"]["trend"]}
    for month, amount in dashboards["expected_pos"].items():
        if month in trend:
            assert float(trend[month]) == float(amount), (month, trend, dashboards["expected_pos"])
    assert dashboards["kpis"]["members"]["total"] >= 5 and dashboards["kpis"]["sales"]["ec_credited"]["orders"] >= 1
    assert lines[-1] == "Journey done."


def line_user(member):
    return next(i["value"] for i in member["identities"] if i["kind"] == "line_user_id")
