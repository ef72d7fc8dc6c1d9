"""Tags with provenance against moto: webhook and purchase-rule tags in the resolver's transaction, the tag
routes for the admin, staff and managers, and merges."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from omo2c import wiring
from omo2c.binding.model import Binding
from omo2c.core.settings import Settings
from omo2c.members.storage import audience_key, audience_shard
from omo2c.sources.canonical import CanonicalEvent
from tests.conftest import TABLES
from tests.support.aws import http_event, load_handler
from tests.support.events import pos_order

ROUTE = "/members/{member_id}/tags/{tag}"
STAFF = {"role": "staff", "staff_id": "S001", "store_id": "ST01", "key_id": ""}
OTHER_STAFF = {"role": "staff", "staff_id": "S002", "store_id": "ST01", "key_id": ""}
MANAGER = {"role": "manager", "staff_id": "S009", "store_id": "ST01", "key_id": ""}
OTHER_MANAGER = {"role": "manager", "staff_id": "S019", "store_id": "ST02", "key_id": ""}


def record(event_id: str, *tags: str, phone: str | None = "0955-700-100", email: str | None = None,
           day: int = 1, categories: tuple[str, ...] = (), store_id: str = "ST01", source: str = "pos") -> str:
    raw = pos_order(event_id, phone=phone, email=email, order_id=f"O-{event_id}",
                    occurred_at=f"2026-11-{day:02d}T10:00:00+08:00")
    raw["store_id"] = store_id
    raw["customer"]["tags"] = list(tags)
    if categories:
        raw["order"]["items"] = [{"sku": f"S{n}", "price": 100, "category": c} for n, c in enumerate(categories)]
    return wiring.production().resolver.record(CanonicalEvent.model_validate({**raw, "source": source})).member_id


def raw_items(aws, pk: str, prefix: str = "") -> list[dict]:
    got = aws["dynamodb"].query(TableName=TABLES["MembersTable"],
                                KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
                                ExpressionAttributeValues={":p": {"S": pk}, ":s": {"S": prefix}}, ConsistentRead=True)
    return got["Items"]


def audience(tag: str) -> list[str]:
    return wiring.production().member_tags.store.audience("tag", tag)


def call(method: str, member_id: str, tag: str, context, caller: dict | None = None) -> tuple[int, dict]:
    encoded = quote(tag, safe="")
    event = http_event(method, f"/members/{member_id}/tags/{encoded}", route=ROUTE,
                       path_params={"member_id": member_id, "tag": tag},
                       **({"caller": caller} if caller else {}))
    response = load_handler("MembersApiFunction").lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def bind(member_id: str, staff_id: str = "S001", store_id: str = "ST01") -> None:
    members = wiring.production().members
    now = datetime.now(tz=UTC)
    members.bind(members.get_member(member_id), Binding(staff_id, store_id, now, "qr", "test", now))


# ---------------------------------------------------------------------- from webhooks and purchases
def test_a_webhook_tag_recorded_twice_stays_one_tag_with_its_first_provenance(aws):
    member_id = record("e1", "VIP", day=1)
    assert record("e2", "vip", " Vip ", day=2) == member_id
    record("e1", "vip", day=1)  # a redelivery changes nothing
    member = wiring.production().members.get_member(member_id)
    assert member.tags == ["vip"]
    (item,) = raw_items(aws, f"MEMBER#{member_id}", "TAG#")
    assert item["source"]["S"] == "webhook:pos" and item["tag"]["S"] == "vip"
    assert int(item["at"]["N"]) == int(datetime.fromisoformat("2026-11-01T10:00:00+08:00").timestamp() * 1000)
    assert audience("vip") == [member_id]
    (listed,) = wiring.production().member_tags.list(member_id)
    assert listed == {"member_id": member_id, "tag": "vip", "source": "webhook:pos", "at": "2026-11-01T02:00:00.000Z"}


def test_a_purchase_rule_tags_the_buyer_in_the_same_transaction(aws, monkeypatch):
    monkeypatch.setenv("OMO_TAG_RULES", json.dumps({"category:tea": "cat:tea"}))
    wiring.reset()
    member_id = record("e1", categories=("coffee", "Tea"))
    assert wiring.production().members.get_member(member_id).tags == ["cat:tea"]
    (item,) = raw_items(aws, f"MEMBER#{member_id}", "TAG#")
    assert item["source"]["S"] == "rule:category:tea"
    assert audience("cat:tea") == [member_id]
    record("e2", categories=("tea",), day=2)
    assert len(raw_items(aws, f"MEMBER#{member_id}", "TAG#")) == 1


def test_a_known_members_tagged_order_still_costs_two_requests(aws):
    from bench.counting import counting

    record("e1", day=1)
    with counting() as calls:
        record("e2", "vip", "gold", day=2)
    assert calls.total("dynamodb") == 2


# ---------------------------------------------------------------------- the routes
def test_the_admin_tags_and_untags_with_provenance(aws, lambda_context):
    member_id = record("e1")
    status, body = call("PUT", member_id, "Gold", lambda_context)
    assert status == 200 and body["member_id"] == member_id and body["tag"] == "gold" and body["source"] == "admin"
    again = call("PUT", member_id, "gold", lambda_context)
    assert again == (200, body)  # idempotent: the first provenance stays
    assert wiring.production().members.get_member(member_id).tags == ["gold"] and audience("gold") == [member_id]
    assert call("DELETE", member_id, "GOLD", lambda_context) == (200, {"member_id": member_id, "tag": "gold",
                                                                       "removed": True})
    assert call("DELETE", member_id, "gold", lambda_context)[1]["removed"] is False
    assert wiring.production().members.get_member(member_id).tags == []
    assert audience("gold") == [] and raw_items(aws, f"MEMBER#{member_id}", "TAG#") == []


def test_a_cjk_tag_travels_url_encoded(aws, lambda_context):
    member_id = record("e1")
    tag = "老客戶" * 13  # 39 characters, 351 once URL-encoded
    status, body = call("PUT", member_id, tag, lambda_context)
    assert status == 200 and body["tag"] == tag
    assert audience(tag) == [member_id]


@pytest.mark.parametrize("tag", ["vip gold", "x" * 41, "vip!"])
def test_a_bad_tag_is_422_naming_tag(aws, lambda_context, tag):
    member_id = record("e1")
    status, body = call("PUT", member_id, tag, lambda_context)
    assert status == 422 and body["details"][0]["field"] == "tag"


def test_the_admin_gets_404_for_nobody_and_staff_403(aws, lambda_context):
    assert call("PUT", "nobody", "vip", lambda_context)[0] == 404
    assert call("PUT", "nobody", "vip", lambda_context, STAFF)[0] == 403


def test_staff_tag_only_their_own_customers_and_managers_their_stores(aws, lambda_context):
    mine = record("e1")
    bind(mine)
    store_customer = record("e2", phone="0955-700-200")  # never bound: a customer of ST01 by its first POS sale
    elsewhere = record("e3", phone="0955-700-300", store_id="ST02")
    status, body = call("PUT", mine, "vip", lambda_context, STAFF)
    assert status == 200 and body["source"] == "staff:S001"
    assert call("DELETE", mine, "vip", lambda_context, STAFF)[1]["removed"] is True
    assert call("PUT", mine, "vip", lambda_context, OTHER_STAFF)[0] == 403
    assert call("PUT", store_customer, "vip", lambda_context, STAFF)[0] == 403
    assert call("PUT", store_customer, "vip", lambda_context, MANAGER) == (200, {
        "member_id": store_customer, "tag": "vip", "source": "staff:S009",
        "at": call("PUT", store_customer, "vip", lambda_context)[1]["at"]})
    assert call("PUT", elsewhere, "vip", lambda_context, MANAGER)[0] == 403
    assert call("DELETE", elsewhere, "vip", lambda_context, OTHER_MANAGER)[0] == 200


def test_other_members_routes_stay_the_admins(aws, lambda_context):
    member_id = record("e1")
    bind(member_id)
    event = http_event("GET", f"/members/{member_id}", route="/members/{member_id}",
                       path_params={"member_id": member_id}, caller=STAFF)
    assert load_handler("MembersApiFunction").lambda_handler(event, lambda_context)["statusCode"] == 403


def test_tags_stored_as_a_list_before_become_a_set_on_the_first_put(aws, lambda_context):
    member_id = record("e1")
    aws["dynamodb"].update_item(
        TableName=TABLES["MembersTable"], Key={"pk": {"S": f"MEMBER#{member_id}"}, "sk": {"S": "PROFILE"}},
        UpdateExpression="SET tags = :t", ExpressionAttributeValues={":t": {"L": [{"S": "old"}, {"S": "old"}]}})
    assert call("PUT", member_id, "new", lambda_context)[0] == 200
    assert sorted(wiring.production().members.get_member(member_id).tags) == ["new", "old"]


def test_the_backfill_indexes_tags_from_before(aws):
    member_id = record("e1")
    aws["dynamodb"].update_item(
        TableName=TABLES["MembersTable"], Key={"pk": {"S": f"MEMBER#{member_id}"}, "sk": {"S": "PROFILE"}},
        UpdateExpression="SET tags = :t", ExpressionAttributeValues={":t": {"L": [{"S": "VIP"}, {"S": "bad tag"}]}})
    store = wiring.production().member_tags.store
    assert store.backfill() == (1, 0)
    assert wiring.production().members.get_member(member_id).tags == ["vip"]
    assert audience("vip") == [member_id]
    assert [(t["tag"], t["source"]) for t in wiring.production().member_tags.list(member_id)] == [("vip", "legacy")]


# ---------------------------------------------------------------------- merges
def test_a_merge_keeps_every_tag_findable_once_and_an_unmerge_gives_them_back(aws):
    older = record("e1", "vip", phone="0955-700-100", day=1)
    newer = record("e2", "gold", phone=None, email="mei@example.com", day=2)
    survivor = record("e3", "new", phone="0955-700-100", email="mei@example.com", day=3)
    assert survivor == older
    member = wiring.production().members.get_member(survivor)
    assert sorted(member.tags) == ["gold", "new", "vip"] and member.absorbed == [newer]
    listed = {t["tag"]: t["source"] for t in wiring.production().member_tags.list(survivor)}
    assert listed == {"gold": "webhook:pos", "new": "webhook:pos", "vip": "webhook:pos"}
    # The absorbed member's audience entry leads to the survivor: a campaign finds it once.
    assert audience("gold") == [newer]
    selected, _, _ = campaign_select({"tags": ["gold", "vip"]})
    assert [m.member_id for m in selected] == [survivor]

    wiring.production().members_admin.unmerge(survivor, None)
    assert sorted(wiring.production().members.get_member(survivor).tags) == ["new", "vip"]
    assert wiring.production().members.get_member(newer).tags == ["gold"]
    assert [m.member_id for m in campaign_select({"tags": ["gold"]})[0]] == [newer]


def test_a_tag_the_survivor_earned_after_the_merge_stays_with_it_on_unmerge(aws):
    survivor = record("e1", "vip", phone="0955-700-100", day=1)
    newer = record("e2", "gold", phone=None, email="mei@example.com", day=2)
    record("e3", phone="0955-700-100", email="mei@example.com", day=3)
    record("e4", "gold", phone="0955-700-100", day=4)  # the survivor's own event says gold too
    assert raw_items(aws, f"MEMBER#{survivor}", "TAG#gold")[0]["source"]["S"] == "webhook:pos"
    assert [t["at"] for t in wiring.production().member_tags.list(survivor) if t["tag"] == "gold"] == [
        "2026-11-02T02:00:00.000Z"]  # the first time it came, from the absorbed member
    wiring.production().members_admin.unmerge(survivor, None)
    assert sorted(wiring.production().members.get_member(survivor).tags) == ["gold", "vip"]
    assert wiring.production().members.get_member(newer).tags == ["gold"]
    assert sorted(audience("gold")) == sorted([survivor, newer])


def test_deleting_a_tag_a_merge_brought_removes_the_absorbed_members_entries_too(aws, lambda_context):
    survivor = record("e1", phone="0955-700-100", day=1)
    newer = record("e2", "gold", phone=None, email="mei@example.com", day=2)
    record("e3", phone="0955-700-100", email="mei@example.com", day=3)
    assert call("DELETE", newer, "gold", lambda_context)[1] == {"member_id": survivor, "tag": "gold", "removed": True}
    assert audience("gold") == [] and raw_items(aws, f"MEMBER#{newer}", "TAG#") == []
    # Undone, the absorbed member gets its tag back, with provenance and audience again.
    wiring.production().members_admin.unmerge(survivor, None)
    assert wiring.production().members.get_member(newer).tags == ["gold"]
    assert audience("gold") == [newer]
    assert raw_items(aws, f"MEMBER#{newer}", "TAG#")[0]["source"]["S"] == "unmerge"


def campaign_select(segment: dict):
    from omo2c.campaigns.model import Segment

    service = wiring.Services(Settings.from_env()).campaign_service
    return service.select(Segment.model_validate(segment), datetime.now(tz=UTC))


def test_audience_keys_spread_over_sixteen_shards():
    shards = {audience_shard(f"m{n}") for n in range(400)}
    assert shards == set(range(16))
    assert audience_key("tag", "vip", "m1") == (f"AUDIENCE#tag:vip#{audience_shard('m1')}", "MEMBER#m1")
