"""Campaign segments by tag and tier read only their audience: the tag's audience items or the tier's index
entries, then only those members, never the day window of everyone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bench.counting import counting
from omo2c import wiring
from omo2c.core.settings import Settings
from omo2c.members.model import LineStatus
from omo2c.members.storage import audience_shard
from omo2c.sources.canonical import CanonicalEvent
from tests.conftest import TABLES
from tests.support.aws import http_event, load_handler
from tests.support.events import pos_order
from tests.support.fakes import FakeMessenger, FakeSms

MEMBERS = 30
VIP = (3, 7, 11, 19)  # 19 is also "lapsed"
GOLD = (4, 7)
LAPSED = (19, 20)


def _tags(n: int) -> list[str]:
    return [t for t, group in (("vip", VIP), ("lapsed", LAPSED)) if n in group]


@pytest.fixture
def crowd(aws):
    """30 members who bought 70 days ago, LINE followers; some tagged by the POS, two in the gold tier."""
    ids = []
    at = (datetime.now(tz=UTC) - timedelta(days=70)).isoformat()
    members = wiring.production().members
    for n in range(MEMBERS):
        raw = pos_order(f"c-{n}", phone=f"0955{800000 + n:06d}", order_id=f"C{n}", occurred_at=at, name=f"客人{n}")
        raw["customer"]["tags"] = _tags(n)
        event = CanonicalEvent.model_validate({**raw, "source": "pos"})
        member_id = wiring.production().resolver.record(event).member_id
        members.set_line(members.get_member(member_id), LineStatus(f"U{n:032x}", True, at))
        ids.append(member_id)
    for n in GOLD:  # as the loyalty area writes them
        aws["dynamodb"].update_item(
            TableName=TABLES["MembersTable"], Key={"pk": {"S": f"MEMBER#{ids[n]}"}, "sk": {"S": "PROFILE"}},
            UpdateExpression="SET tier = :t, tier_key = :k",
            ExpressionAttributeValues={":t": {"S": "gold"}, ":k": {"S": f"gold#{audience_shard(ids[n])}"}})
    return ids


def service():
    return wiring.Services(Settings.from_env(), messenger=FakeMessenger(), sms=FakeSms()).campaign_service


def dry_run(segment: dict) -> tuple[dict, int]:
    campaigns = service()
    campaign = campaigns.create({"name": "t", "segment": segment, "message": "{name} 您好", "channels": ["line"],
                                 "schedule": "cron(0 11 * * ? *)", "quiet_hours": []})
    with counting() as calls:
        summary = campaigns.run(campaign.campaign_id, dry_run=True)
    return summary, calls.items_read - 1  # less the campaign's own definition


def test_a_tag_segment_reads_its_audience_and_only_those_members(crowd):
    summary, read = dry_run({"tags": ["VIP"]})
    assert summary["selected"] == len(VIP)
    assert summary["items_read"] == read == 2 * len(VIP)  # an audience item and the member, each
    assert {s["member_id"] for s in summary["samples"]} <= {crowd[n] for n in VIP}


def test_tags_none_excludes(crowd):
    summary, read = dry_run({"tags": ["vip"], "tags_none": ["lapsed"]})
    assert summary["selected"] == len(VIP) - 1 and read == 2 * len(VIP)
    everyone_else, read_all = dry_run({"tags_none": ["lapsed"]})  # no audience to read: the day window
    assert everyone_else["selected"] == MEMBERS - len(LAPSED) and read_all == MEMBERS


def test_a_tier_segment_reads_the_tier_index_whole_members_once(crowd):
    summary, read = dry_run({"tiers": ["gold"]})
    assert summary["selected"] == len(GOLD) and read == len(GOLD)
    both, read_both = dry_run({"tiers": ["gold"], "tags": ["vip"]})
    assert both["selected"] == len(set(GOLD) & set(VIP)) and read_both == len(GOLD)
    nobody, _ = dry_run({"tiers": ["silver"]})
    assert nobody["selected"] == 0


def test_the_day_window_still_serves_other_segments(crowd):
    summary, read = dry_run({"days_since_last_order": {"min": 60, "max": 90}})
    assert summary["selected"] == MEMBERS and read == MEMBERS


def test_a_tag_campaign_sends_to_the_tagged_only(crowd, lambda_context):
    line, sms = FakeMessenger(), FakeSms()
    services = wiring.Services(Settings.from_env(), messenger=line, sms=sms)
    api = load_handler("CampaignsApiFunction")
    headers = {"Authorization": "Bearer test-admin-token", "Content-Type": "application/json"}
    body = {"name": "vip", "segment": {"tags": ["vip"], "tags_none": ["lapsed"]}, "message": "VIP 專屬 8 折",
            "channels": ["line"], "schedule": "cron(0 11 * * ? *)", "quiet_hours": []}
    created = api.lambda_handler(http_event("POST", "/campaigns", route="/campaigns", headers=headers,
                                            body=json.dumps(body)), lambda_context, services=services)
    assert created["statusCode"] == 201, created["body"]
    campaign_id = json.loads(created["body"])["campaign_id"]
    ran = api.lambda_handler(http_event("POST", f"/campaigns/{campaign_id}/run", route="/campaigns/{campaign_id}/run",
                                        headers=headers, path_params={"campaign_id": campaign_id}, body="{}"),
                             lambda_context, services=services)
    result = json.loads(ran["body"])
    assert result["selected"] == len(VIP) - 1 and result["members_per_channel"] == {"line": len(VIP) - 1}
