"""The sample journey of DESIGN.md, end to end over HTTP through the local run."""

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
    assert lines[-1] == "Journey done."
