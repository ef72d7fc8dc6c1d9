"""The local run's reading of template.yaml: routes, queues, intrinsics, environment."""

from __future__ import annotations

from infra.template import Names, load


def test_routes_are_unique_and_include_the_public_contracts():
    template = load()
    keys = [route.key for route in template.routes]
    assert len(keys) == len(set(keys))
    assert {"POST /webhooks/{source}", "POST /line/webhook", "GET /members"} <= set(keys)


def test_only_the_webhooks_are_public():
    public = {route.key for route in load().routes if not route.protected}
    assert public == {"POST /webhooks/{source}", "POST /line/webhook"}


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
