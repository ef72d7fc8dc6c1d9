"""The admin resolvers' request validation keeps the project's one error shape and today's statuses.

Handlers run against fake services (no AWS): what is checked is the HTTP edge, not the domain.
"""

from __future__ import annotations

import json
import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from infra.template import ROOT, load
from omo2c.core.errors import Conflict, NotFound
from tests.support.aws import FakeContext, http_event, load_handler

ADMIN = {"Authorization": "Bearer t", "Content-Type": "application/json"}
MERGE = {"merge_id": "m1", "absorbed_member_id": "b", "at": "2026-11-22T00:00:00+00:00", "event_id": "e",
         "reason": "phone", "status": "unmerged", "moved_identities": ["phone"]}


class FakeMembersAdmin:
    def __init__(self, unmerged: dict[str, Any] | None = None, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.unmerged, self.error = unmerged, error

    def unmerge(self, member_id: str, merge_id: str | None) -> dict[str, Any]:
        self.calls.append((member_id, merge_id))
        if self.error is not None:
            raise self.error
        return self.unmerged or {"unmerged": MERGE, "restored_member_id": "b"}

    def find(self, query: dict[str, str | None]) -> dict[str, Any]:
        self.calls.append(("find", query))
        raise NotFound("no member has that identifier")


class FakeCampaigns:
    def __init__(self) -> None:
        self.runs: list[tuple[str, bool]] = []

    def run(self, campaign_id: str, dry_run: bool = False) -> dict[str, Any]:
        self.runs.append((campaign_id, dry_run))
        summary = {"campaign_id": campaign_id, "selected": 0, "items_read": 0, "members_per_channel": {},
                   "skipped": {}, "sms_segments": 0, "estimated_sms_cost_usd": "0"}
        return {**summary, "dry_run": True, "samples": []} if dry_run else {**summary, "run_id": "r", "jobs": 0}


def call(function: str, services: Any, method: str, path: str, route: str, body: str = "",
         headers: dict[str, str] | None = None, query: dict[str, str] | None = None) -> tuple[int, Any]:
    event = http_event(method, path, route=route, body=body, headers=headers or ADMIN, query=query)
    response = load_handler(function).lambda_handler(event, FakeContext(), services=services)
    text = response["body"]
    return response["statusCode"], json.loads(text) if text else None


def unmerge(admin: FakeMembersAdmin, body: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    return call("MembersApiFunction", SimpleNamespace(members_admin=admin), "POST", "/members/a1/unmerge",
                "/members/{member_id}/unmerge", body, headers)


@pytest.mark.parametrize("body", ["", "{}", "null", "  "])
def test_an_empty_optional_body_undoes_the_latest_merge(body):
    admin = FakeMembersAdmin()
    status, answer = unmerge(admin, body)
    assert status == 200 and answer["restored_member_id"] == "b"
    assert admin.calls == [("a1", None)]


def test_a_json_body_is_read_whatever_its_content_type_says():
    admin = FakeMembersAdmin()
    form = {**ADMIN, "Content-Type": "application/x-www-form-urlencoded"}
    assert unmerge(admin, '{"merge_id": "m1"}', form)[0] == 200
    assert unmerge(admin, '{"merge_id": "m2"}', {**ADMIN, "Content-Type": "text/plain"})[0] == 200
    assert admin.calls == [("a1", "m1"), ("a1", "m2")]


@pytest.mark.parametrize(("body", "message"), [("{bad", "body is not valid JSON"),
                                                ("[1, 2]", "body must be a JSON object"),
                                                ('"text"', "body must be a JSON object")])
def test_a_body_that_is_not_a_json_object_is_a_400(body, message):
    admin = FakeMembersAdmin()
    assert unmerge(admin, body) == (400, {"error": "malformed_body", "message": message})
    assert admin.calls == []


@pytest.mark.parametrize("body", ['{"merge_id": ' + "9" * 5000 + "}",
                                  '{"merge_id": ' + "[" * 50_000 + "]" * 50_000 + "}"])
def test_numbers_too_long_and_nesting_too_deep_are_a_400_not_a_500(body):
    admin = FakeMembersAdmin()
    status, answer = unmerge(admin, body)
    assert status == 400 and answer["error"] == "malformed_body"
    assert admin.calls == []


def test_an_infinite_number_in_a_campaign_segment_is_a_422():
    campaign = {"name": "x", "segment": {"net_spent": {"min": "Infinity"}}, "message": "hi", "channels": ["line"],
                "schedule": "rate(1 day)"}
    for body in (json.dumps(campaign), json.dumps(campaign).replace('"Infinity"', "1e999999999")):
        status, answer = call("CampaignsApiFunction", SimpleNamespace(), "POST", "/campaigns", "/campaigns", body)
        assert status == 422 and answer["details"][0]["field"].startswith("segment.net_spent.min"), answer


def test_schema_violations_are_a_422_naming_each_field_without_its_value():
    admin = FakeMembersAdmin()
    status, answer = unmerge(admin, '{"merge_id": 12345, "secret": "0933128765"}')
    assert status == 422 and answer["error"] == "invalid" and answer["message"]
    assert {d["field"] for d in answer["details"]} == {"merge_id", "secret"}
    assert "0933128765" not in json.dumps(answer) and "12345" not in json.dumps(answer)
    assert admin.calls == []


def test_junk_path_ids_and_query_values_are_a_422_not_a_500():
    admin = FakeMembersAdmin()
    status, answer = call("MembersApiFunction", SimpleNamespace(members_admin=admin), "GET", "/members/" + "a" * 65,
                          "/members/{member_id}")
    assert status == 422 and [d["field"] for d in answer["details"]] == ["member_id"]
    status, answer = call("MembersApiFunction", SimpleNamespace(members_admin=admin), "GET", "/members",
                          "/members", query={"email": "x" * 400})
    assert status == 422 and [d["field"] for d in answer["details"]] == ["email"]
    assert admin.calls == []


def test_lookup_keys_reach_the_service_and_unknown_ones_are_ignored():
    admin = FakeMembersAdmin()
    status, answer = call("MembersApiFunction", SimpleNamespace(members_admin=admin), "GET", "/members",
                          "/members", query={"phone": "0933-128-765", "colour": "red"})
    assert status == 404 and answer["error"] == "not_found"
    assert admin.calls == [("find", {"phone": "0933-128-765", "email": None, "line_user_id": None,
                                     "pos_member_no": None})]


def test_a_concurrent_update_is_a_409():
    status, answer = unmerge(FakeMembersAdmin(error=Conflict("the member changed concurrently")), "")
    assert status == 409 and answer == {"error": "conflict", "message": "the member changed concurrently"}


def test_an_answer_that_breaks_its_model_is_a_500_logged_by_field_not_value(caplog):
    status, answer = unmerge(FakeMembersAdmin(unmerged={"unmerged": MERGE, "restored_member_id": "b",
                                                        "surprise": "+886933128765"}), "")
    assert (status, answer) == (500, {"error": "internal", "message": "internal error"})
    (record,) = [r for r in caplog.records if "does not match its declared model" in r.getMessage()]
    assert record.fields == ["response.surprise"] and "933128765" not in caplog.text


@pytest.mark.parametrize(("body", "status", "dry_run"), [("", 202, False), ('{"dry_run": false}', 202, False),
                                                         ('{"dry_run": true}', 200, True)])
def test_a_run_answers_202_and_a_dry_run_200(body, status, dry_run):
    campaigns = FakeCampaigns()
    answer = call("CampaignsApiFunction", SimpleNamespace(campaign_service=campaigns), "POST", "/campaigns/c1/run",
                  "/campaigns/{campaign_id}/run", body)
    assert answer[0] == status and campaigns.runs == [("c1", dry_run)]


def test_dry_run_must_be_a_boolean():
    campaigns = FakeCampaigns()
    status, answer = call("CampaignsApiFunction", SimpleNamespace(campaign_service=campaigns), "POST",
                          "/campaigns/c1/run", "/campaigns/{campaign_id}/run", '{"dry_run": "yes"}')
    assert status == 422 and [d["field"] for d in answer["details"]] == ["dry_run"] and campaigns.runs == []


@pytest.mark.parametrize("query", [None, {"month": "2026-13"}, {"month": "November"}])
def test_a_statement_needs_a_yyyy_mm_month(query):
    status, answer = call("StatementsApiFunction", SimpleNamespace(), "GET", "/staff/S001/statement",
                          "/staff/{staff_id}/statement", query=query)
    assert status == 422 and [d["field"] for d in answer["details"]] == ["month"]


@pytest.mark.parametrize("function", ["IngestApiFunction", "LineWebhookFunction"])
def test_the_webhooks_load_no_validation_machinery(function):
    path = load().functions[function].module_path
    probe = (f"import sys; sys.path.insert(0, {str(path.parent)!r}); import {path.stem}; "
             "print([m for m in sys.modules if m.endswith(('openapi_validation', 'openapi.params', 'api_models'))])")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT,
                            env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "ap-northeast-1"}).stdout
    assert loaded.strip() == "[]"
