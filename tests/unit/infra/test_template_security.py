"""The template's IAM stays scoped and carries no secret values."""

from __future__ import annotations

import re
from fnmatch import fnmatch

from infra.template import TEMPLATE, load, load_raw
from omo2c.core import secrets
from omo2c.core.settings import Settings

UNSCOPED_ALLOWED = {"sns:Publish"}  # SMS to a phone number has no resource ARN


def _statements(resource: dict) -> list[dict]:
    out = []
    for policy in resource.get("Properties", {}).get("Policies", []) or []:
        if isinstance(policy, dict) and "Statement" in policy:
            out += policy["Statement"]
    for policy in resource.get("Properties", {}).get("Policies", []) if resource["Type"] == "AWS::IAM::Role" else []:
        out += policy.get("PolicyDocument", {}).get("Statement", [])
    return out


def _actions(statement: dict) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_no_wildcard_actions_and_no_unscoped_resources_where_a_scope_exists():
    for logical_id, resource in load_raw()["Resources"].items():
        for statement in _statements(resource):
            actions = _actions(statement)
            assert "*" not in actions and not any(a.endswith(":*") for a in actions), logical_id
            if statement.get("Resource") == "*":
                assert set(actions) <= UNSCOPED_ALLOWED, (logical_id, actions)


def test_no_secret_values_in_the_template():
    text = TEMPLATE.read_text()
    assert not re.search(r"(?i)(secret|token|password)\s*:\s*['\"]?[A-Za-z0-9/+=]{16,}", text)


# The secrets under /omo2c/<Stage>/ each function uses; a function may read these and no other.
SECRETS_USED = {
    "AdminAuthorizerFunction": {"admin-token"},
    "IngestApiFunction": {"source-secret/*", "member-code-key"},  # sources are configuration (WebhookSources)
    "LineWebhookFunction": {"line-channel-secret", "line-channel-access-token", "otp-key", "member-code-key"},
    "MemberCardFunction": {"member-code-key"},
    "SendWorkerFunction": {"line-channel-access-token", "unsubscribe-key"},  # signs each e-mail's unsubscribe link
    "StaffConsoleApiFunction": {"line-channel-access-token"},  # replies in LINE
    "UnsubscribeFunction": {"unsubscribe-key"},
}


def secret_names() -> set[str]:
    """Every secret the code knows by name, with one source secret per configured webhook source."""
    sources = Settings.from_env({"OMO_WEBHOOK_SOURCES": load_raw()["Parameters"]["WebhookSources"]["Default"]})
    return set(secrets._ENV_NAMES) | {f"source-secret/{source}" for source in sources.webhook_sources}


def readable(patterns: set[str]) -> set[str]:
    return {name for name in secret_names() if any(fnmatch(name, pattern) for pattern in patterns)}


def _ssm_read_patterns(resource: dict) -> set[str]:
    assert not any(a.startswith("ssm:") for s in _statements(resource) for a in _actions(s)), \
        "grant SSM reads with SSMParameterReadPolicy, so the table above sees them"
    patterns = set()
    for policy in resource["Properties"].get("Policies", []):
        if isinstance(policy, dict) and "SSMParameterReadPolicy" in policy:
            name = policy["SSMParameterReadPolicy"]["ParameterName"]["Fn::Sub"]
            assert name.startswith("omo2c/${Stage}/"), name
            patterns.add(name.removeprefix("omo2c/${Stage}/"))
    return patterns


def test_each_function_may_read_only_the_secrets_it_uses():
    for logical_id, resource in load_raw()["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            patterns = _ssm_read_patterns(resource)
            assert patterns == SECRETS_USED.get(logical_id, set()), logical_id
            assert readable(patterns) == readable(SECRETS_USED.get(logical_id, set())), logical_id


def test_local_secret_variables_are_declared_empty_where_the_secret_is_read_and_nowhere_else():
    """Declared so `sam local invoke --env-vars` can set them; empty, so AWS reads SSM."""
    variables = {secrets.env_name(name) for name in secret_names()}
    for logical_id, function in load().functions.items():
        declared = {key: value for key, value in function.environment.items() if key in variables}
        wanted = {secrets.env_name(name): "" for name in readable(SECRETS_USED.get(logical_id, set()))}
        assert declared == wanted, logical_id
