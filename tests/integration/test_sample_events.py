"""Every route and trigger in the template has a sample event in events/, and its handler takes it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.template import load
from tests.support.aws import load_handler

EVENTS = Path(__file__).resolve().parents[2] / "events"
SAMPLES = sorted(p for p in EVENTS.glob("*/*.json") if p.parent.name not in ("canonical", "shopify", "line"))


def _kind(sample: dict) -> str:
    if "routeKey" in sample and sample.get("type") != "REQUEST":
        return "http"
    if "Records" in sample:
        return "sqs"
    return "other"


def _function_for(sample: dict) -> str | None:
    template = load()
    if _kind(sample) == "http":
        return next((r.function for r in template.routes if r.key == sample["routeKey"]), None)
    if _kind(sample) == "sqs":
        queue = sample["Records"][0]["eventSourceARN"].rsplit(":", 1)[-1]
        return next((f.logical_id for f in template.functions.values() for q in f.queues if q.queue == queue), None)
    if sample.get("type") == "REQUEST":
        return template.authorizer
    if "campaign_id" in sample:
        return "CampaignPlannerFunction"
    if sample.get("source") == "aws.scheduler":  # a schedule the template declares on its function, by name
        name = str(sample["resources"][0]).rsplit("/", 1)[-1]
        return next((logical_id for logical_id, resource in template.raw["Resources"].items()
                     if logical_id.startswith(name) and any(e.get("Type") == "ScheduleV2" for e in (
                         resource.get("Properties") or {}).get("Events", {}).values())), None)
    return None


def test_every_route_and_queue_consumer_has_a_sample():
    samples = [json.loads(p.read_text()) for p in SAMPLES]
    routes = {s["routeKey"] for s in samples if _kind(s) == "http"}
    assert {r.key for r in load().routes} <= routes
    functions = {_function_for(s) for s in samples}
    assert set(load().functions) <= functions


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_handler_takes_its_sample(path, aws, lambda_context, monkeypatch):
    sample = json.loads(path.read_text())
    if "campaign" in path.name and "http" not in path.name and "scheduler" not in path.name:
        pytest.skip("a campaign definition, not an event")
    function = _function_for(sample)
    if function is None:
        pytest.skip("an EventBridge envelope, delivered through a queue sample")
    monkeypatch.setenv("OMO_ADMIN_TOKEN", "local-admin-token")
    result = load_handler(function).lambda_handler(sample, lambda_context)
    if _kind(sample) == "http":
        assert result["statusCode"] < 500, result.get("body")
    elif _kind(sample) == "sqs":
        assert result == {"batchItemFailures": []}
    else:
        assert isinstance(result, dict)
