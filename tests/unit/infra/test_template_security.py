"""The template's IAM stays scoped and carries no secret values."""

from __future__ import annotations

import re

from infra.template import TEMPLATE, load_raw

UNSCOPED_ALLOWED = {"sns:Publish"}  # SMS to a phone number has no resource ARN


def _statements(resource: dict) -> list[dict]:
    out = []
    for policy in resource.get("Properties", {}).get("Policies", []) or []:
        if isinstance(policy, dict) and "Statement" in policy:
            out += policy["Statement"]
    for policy in resource.get("Properties", {}).get("Policies", []) if resource["Type"] == "AWS::IAM::Role" else []:
        out += policy.get("PolicyDocument", {}).get("Statement", [])
    return out


def test_no_wildcard_actions_and_no_unscoped_resources_where_a_scope_exists():
    for logical_id, resource in load_raw()["Resources"].items():
        for statement in _statements(resource):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert "*" not in actions and not any(a.endswith(":*") for a in actions), logical_id
            if statement.get("Resource") == "*":
                assert set(actions) <= UNSCOPED_ALLOWED, (logical_id, actions)


def test_no_secret_values_in_the_template():
    text = TEMPLATE.read_text()
    assert not re.search(r"(?i)(secret|token|password)\s*:\s*['\"]?[A-Za-z0-9/+=]{16,}", text)
    assert "LINE_CHANNEL_SECRET" not in text and "OMO_ADMIN_TOKEN" not in text
