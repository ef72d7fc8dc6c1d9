"""The local run's reading of template.yaml: routes, queues, intrinsics, environment."""

from __future__ import annotations

import json
import re

import pytest

from infra.template import Names, load, load_raw
from omo2c.core.settings import Settings


def test_routes_are_unique_and_include_the_public_contracts():
    template = load()
    keys = [route.key for route in template.routes]
    assert len(keys) == len(set(keys))
    assert {"POST /webhooks/{source}", "POST /line/webhook", "GET /members"} <= set(keys)


def test_only_the_webhooks_share_links_the_console_page_and_the_member_card_image_are_public():
    """And the e-mail unsubscribe link (its signed token is the authority)."""
    public = {route.key for route in load().routes if not route.protected}
    assert public == {"POST /webhooks/{source}", "POST /line/webhook", "GET /r/{code}", "GET /console",
                      "GET /console/{asset}", "GET /member-card/{code}", "GET /u/{token}", "POST /u/{token}"}


def test_every_consumed_queue_has_a_dead_letter_queue():
    template = load()
    for function in template.functions.values():
        for source in function.queues:
            queue = template.queues[source.queue]
            assert queue.dead_letter in template.queues and queue.max_receive_count
            assert source.report_failures


def test_intrinsics_resolve_to_local_names():
    names = Names(load(), queue_urls={"IngestQueue": "http://127.0.0.1:1/123456789012/IngestQueue"})
    assert names.resolve({"Fn::Sub": "/omo2c/${Stage}"}) == "/omo2c/dev"
    assert names.resolve({"Ref": "IngestQueue"}).endswith("/IngestQueue")
    queue_arn = names.resolve({"Fn::GetAtt": ["IngestQueue", "Arn"]})
    assert queue_arn == "arn:aws:sqs:ap-northeast-1:123456789012:IngestQueue"
    assert names.ref("EventBus") == "omo2c-dev"
    assert names.function_for_arn(names.arn("CampaignPlannerFunction")) == "CampaignPlannerFunction"


def test_functions_agree_on_shared_environment():
    env = Names(load()).environment()
    assert env["OMO_MEMBERS_TABLE"] == "MembersTable"
    assert env["POWERTOOLS_SERVICE_NAME"] == "omo2c"


# ---------------------------------------------------------------- deployed limits and logs
RAW = load_raw()
RESOURCES = RAW["Resources"]
FUNCTIONS = {k: v["Properties"] for k, v in RESOURCES.items() if v["Type"] == "AWS::Serverless::Function"}
LOG_RETENTION_DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                      2922, 3288, 3653}


def _ref(value: dict) -> str:
    return value.get("Ref") or value["Fn::GetAtt"][0]


def test_the_http_api_throttles_every_route_with_parameters_that_have_defaults():
    settings = RESOURCES["HttpApi"]["Properties"]["DefaultRouteSettings"]
    for limit in ("ThrottlingBurstLimit", "ThrottlingRateLimit"):
        parameter = RAW["Parameters"][_ref(settings[limit])]
        assert parameter["Type"] == "Number" and int(parameter["Default"]) > 0, limit


def test_http_api_access_logs_go_to_an_expiring_log_group_and_carry_no_query_strings():
    access = RESOURCES["HttpApi"]["Properties"]["AccessLogSettings"]
    group = RESOURCES[_ref(access["DestinationArn"])]
    assert group["Type"] == "AWS::Logs::LogGroup"
    fields = json.loads(access["Format"])
    assert {"$context.requestId", "$context.routeKey", "$context.status"} <= set(fields.values())
    assert not any("querystring" in value.lower() or "$request" in value for value in fields.values())


def test_every_function_logs_to_its_own_log_group_and_every_log_group_expires():
    groups = {k: v["Properties"] for k, v in RESOURCES.items() if v["Type"] == "AWS::Logs::LogGroup"}
    assert all(group["RetentionInDays"] == {"Ref": "LogRetentionDays"} for group in groups.values())
    assert int(RAW["Parameters"]["LogRetentionDays"]["Default"]) in LOG_RETENTION_DAYS
    assert set(RAW["Parameters"]["LogRetentionDays"]["AllowedValues"]) <= LOG_RETENTION_DAYS
    targets = {name: _ref(props["LoggingConfig"]["LogGroup"]) for name, props in FUNCTIONS.items()}
    assert len(set(targets.values())) == len(targets)
    for name, group in targets.items():
        assert group in groups and name in groups[group]["LogGroupName"]["Fn::Sub"], name


RESERVED = {"SendWorkerFunction": "LINE and SMS rate limits", "LineWebhookFunction": "LINE replies and SMS codes",
            "IngestWorkerFunction": "a replayed backlog must not starve the API"}


@pytest.mark.parametrize("name", sorted(RESERVED))
def test_functions_that_guard_a_limit_reserve_concurrency_from_a_parameter(name):
    condition, reserved, unreserved = FUNCTIONS[name]["ReservedConcurrentExecutions"]["Fn::If"]
    parameter = _ref(reserved)
    assert unreserved == {"Ref": "AWS::NoValue"}
    assert RAW["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, "none"]}]}
    spec = RAW["Parameters"][parameter]
    pattern = spec["AllowedPattern"]
    assert re.fullmatch(pattern, spec["Default"]) and re.fullmatch(pattern, "none")
    assert not re.fullmatch(pattern, "0") and not re.fullmatch(pattern, "1"), "0 stops the function; SQS needs 2"
    assert "quota" in spec["Description"]
    for event in FUNCTIONS[name].get("Events", {}).values():
        if event["Type"] == "SQS":  # the poller stays within the reservation instead of being throttled
            assert event["Properties"]["ScalingConfig"] == {
                "Fn::If": [condition, {"MaximumConcurrency": reserved}, {"Ref": "AWS::NoValue"}]}


def test_the_http_api_may_invoke_its_lambda_authorizer():
    authorizer = RESOURCES["HttpApi"]["Properties"]["Auth"]["Authorizers"]["AdminAuthorizer"]["FunctionArn"]
    granted = [r["Properties"] for r in RESOURCES.values() if r["Type"] == "AWS::Lambda::Permission"
               and r["Properties"]["FunctionName"] == authorizer]
    assert len(granted) == 1
    assert granted[0]["Action"] == "lambda:InvokeFunction" and granted[0]["Principal"] == "apigateway.amazonaws.com"
    assert Names(load()).resolve(granted[0]["SourceArn"]) == \
        "arn:aws:execute-api:ap-northeast-1:123456789012:HttpApi/authorizers/*"


def test_the_local_run_reads_the_template_with_its_limits_and_logs():
    template = load()
    assert set(template.functions) == set(FUNCTIONS)
    assert not {"HttpApiAccessLogs", "AdminAuthorizerInvokePermission"} & (set(template.tables) | set(template.queues))
    Names(template).environment()


# ---------------------------------------------------------------- environment: settings
PER_FUNCTION_SETTINGS = {
    "ingest_queue_url": {"IngestApiFunction"},
    "send_queue_url": {"CampaignsApiFunction", "CampaignPlannerFunction", "SendWorkerFunction", "NotifyEventsFunction"},
    "schedule_group": {"CampaignsApiFunction"},
    "planner_arn": {"CampaignsApiFunction"},
    "scheduler_role_arn": {"CampaignsApiFunction"},
    "schedule_dlq_arn": {"CampaignsApiFunction"},
}


def test_the_template_declares_every_setting_for_the_functions_that_read_it():
    """`sam local invoke --env-vars` can only override what the template declares."""
    functions = load().functions
    for field in Settings.model_fields:
        for name in PER_FUNCTION_SETTINGS.get(field, set(functions)):
            assert f"OMO_{field.upper()}" in functions[name].environment, (name, field)
    for function in functions.values():
        assert function.environment["AWS_ENDPOINT_URL"] == "", "empty in AWS; env.json points it at omo2c local"


def test_the_template_gives_the_business_rules_as_the_code_defaults():
    """Unit tests run on the defaults, the local run and AWS on the template: they must be the same rules."""
    literals = {key: value for key, value in load().functions["IngestApiFunction"].environment.items()
                if key.startswith("OMO_") and isinstance(value, str)}
    parsed = Settings.from_env(literals)
    fields = {key.removeprefix("OMO_").lower() for key in literals} & set(Settings.model_fields)
    assert fields and parsed.model_dump(include=fields) == Settings().model_dump(include=fields)
