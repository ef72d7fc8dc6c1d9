"""Points and tiers against moto: orders through the loyalty consumer, the points routes, the member view,
redeliveries and out-of-order states, concurrent redemptions, merges and the review."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from omo2c import wiring
from omo2c.core.errors import Conflict
from omo2c.core.settings import Settings
from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.loyalty.model import NotEnoughPoints
from omo2c.loyalty.service import Loyalty
from omo2c.loyalty.storage import LoyaltyStore, tier_key, tier_shards
from omo2c.members.storage import member_key
from omo2c.sources.canonical import CanonicalEvent
from tests.conftest import TABLES, published
from tests.support.aws import http_event, load_handler, sqs_event
from tests.support.events import pos_order

SALE_AT = datetime(2026, 11, 22, 6, 5, tzinfo=UTC)
LOYALTY_EVENTS = ("order.recorded", "member.merged")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class RecordingCoupons:
    """The coupons area's side of the consumer, recorded (its own tests cover it)."""

    def __init__(self) -> None:
        self.orders: list[str] = []

    def record_order(self, event) -> str:
        self.orders.append(event.order_id)
        return "no coupons"


@pytest.fixture
def world(aws, lambda_context):
    clock = Clock(SALE_AT + timedelta(hours=1))
    services = wiring.Services(Settings.from_env(), clock=clock)
    services.coupons = RecordingCoupons()
    consumer = load_handler("LoyaltyFunction")
    points_api = load_handler("PointsApiFunction")
    members_api = load_handler("MembersApiFunction")
    bus: list[dict] = []

    def ingest(*raw_events: dict) -> list[dict]:
        """Record canonical events (the ingest worker's part) and return what reached the loyalty queue."""
        for raw in raw_events:
            outcome = services.resolver.record(CanonicalEvent.model_validate({**raw, "source": raw.get("source",
                                                                                                        "pos")}))
            services.publish(outcome.events)
        envelopes = published(aws)
        bus.extend(envelopes)
        return [e for e in envelopes if e["detail-type"] in LOYALTY_EVENTS]

    def deliver(envelopes: list[dict]) -> None:
        result = consumer.lambda_handler(sqs_event([json.dumps(e) for e in envelopes]), lambda_context, services)
        assert result == {"batchItemFailures": []}
        bus.extend(published(aws))

    def flow(*raw_events: dict) -> list[dict]:
        envelopes = ingest(*raw_events)
        deliver(envelopes)
        return envelopes

    def call(function, method: str, member_id: str, suffix: str = "", body: str = "") -> tuple[int, dict]:
        route = "/members/{member_id}" + suffix
        event = http_event(method, f"/members/{member_id}{suffix}", route=route, body=body,
                           path_params={"member_id": member_id})
        response = function.lambda_handler(event, lambda_context, services)
        return response["statusCode"], json.loads(response["body"])

    return SimpleNamespace(
        services=services, clock=clock, bus=bus, ingest=ingest, deliver=deliver, flow=flow,
        points=lambda m: call(points_api, "GET", m, "/points"),
        redeem=lambda m, body: call(points_api, "POST", m, "/points/redeem", json.dumps(body)),
        member=lambda m: call(members_api, "GET", m),
        tier_changes=lambda: [e["detail"] for e in bus if e["detail-type"] == "member.tier_changed"])


def sale(event_id: str, order_id: str, total: int, phone: str = "0955-606-707", **extra) -> dict:
    return pos_order(event_id, phone=phone, order_id=order_id, total=total,
                     occurred_at=extra.pop("occurred_at", SALE_AT.isoformat()), **extra)


def member_id_of(world, phone: str = "+886955606707") -> str:
    return world.services.members.find_by_identifier(Identifier(IdentifierKind.PHONE, phone)).member_id


def raw_member(aws, member_id: str) -> dict:
    pk, sk = member_key(member_id)
    return aws["dynamodb"].get_item(TableName=TABLES["MembersTable"], Key={"pk": {"S": pk}, "sk": {"S": sk}},
                                    ConsistentRead=True)["Item"]


def by_tier(aws, tier_id: str) -> set[str]:
    found = set()
    for shard in range(tier_shards):
        items = aws["dynamodb"].query(TableName=TABLES["MembersTable"], IndexName="ByTier",
                                      KeyConditionExpression="tier_key = :k",
                                      ExpressionAttributeValues={":k": {"S": f"{tier_id}#{shard}"}})["Items"]
        found |= {i["member_id"]["S"] for i in items}
    return found


def test_a_sale_earns_pending_points_and_its_tier_shows_on_the_member_and_in_the_index(world, aws):
    world.flow(sale("l-1", "L-1", 12800))
    member_id = member_id_of(world)
    status, body = world.points(member_id)
    assert status == 200 and body["member_id"] == member_id
    assert body["balance"] | {} == {"pending": 128, "available": 0, "expiring_soon": 0, "expired": 0, "redeemed": 0,
                                    "earned": 128, "shortfall": 0, "unredeemed": 0}
    assert [(h["kind"], h["order_ref"], h["points"], h["status"]) for h in body["history"]] == [
        ("earned", "pos#L-1", 128, "pending")]
    item = raw_member(aws, member_id)
    assert item["tier"]["S"] == "silver" and item["tier_key"]["S"] == tier_key("silver", member_id)
    assert item["tier_since"]["S"].startswith("2026-11-22T07:05")
    assert item["version"]["N"] == "1", "the member's own version is the resolver's"
    assert by_tier(aws, "silver") == {member_id}
    assert [(c["member_id"], c["from_tier"], c["to_tier"], c["direction"], c["order_ref"])
            for c in world.tier_changes()] == [(member_id, None, "silver", "up", "pos#L-1")]
    assert world.services.coupons.orders == ["L-1"]
    status, view = world.member(member_id)
    assert status == 200
    assert view["tier"] == {"id": "silver", "name": "銀卡", "since": "2026-11-22T07:05:00Z",
                            "spend_in_window": "12800",
                            "next_tier": {"id": "gold", "name": "金卡", "min_spend": "30000"},
                            "amount_to_next": "17200", "benefits": ["生日禮"]}
    assert view["points"] == {"available": 0, "pending": 128, "expiring_soon": 0}


def test_redeliveries_and_out_of_order_states_apply_only_the_newest(world):
    created = world.ingest(sale("o-1", "O-1", 5000))
    refunded = world.ingest(sale("o-2", "O-1", 5000, type_="order.refunded",
                                 refunds=[{"refund_id": "R1", "amount": 1800}]))
    world.deliver(refunded)
    world.deliver(created)
    world.deliver(refunded + created)
    member_id = member_id_of(world)
    _, body = world.points(member_id)
    assert body["balance"]["earned"] == 32 and body["balance"]["pending"] == 32
    assert [c["to_tier"] for c in world.tier_changes()] == ["regular", "regular"], "once, and again on the redelivery"
    cancelled = world.ingest(sale("o-3", "O-1", 5000, type_="order.cancelled"))
    world.deliver(cancelled + refunded)
    _, body = world.points(member_id)
    assert body["balance"]["earned"] == 0 and body["balance"]["pending"] == 0


def test_points_become_available_redeem_once_per_order_ref_and_never_overdraw(world):
    world.flow(sale("r-1", "R-1", 5000))
    member_id = member_id_of(world)
    world.clock.now = SALE_AT + timedelta(days=8)
    status, first = world.redeem(member_id, {"points": 20, "order_ref": "ec#EC-1"})
    assert status == 200 and first["points"] == 20 and first["balance"]["available"] == 30
    assert world.redeem(member_id, {"points": 20, "order_ref": "ec#EC-1"}) == (200, first)
    status, refused = world.redeem(member_id, {"points": 31, "order_ref": "ec#EC-2"})
    assert status == 409 and refused["error"] == "not_enough_points" and "30 points" in refused["message"]
    status, other = world.redeem(member_id, {"points": 5, "order_ref": "ec#EC-1"})
    assert status == 409 and other["error"] == "conflict"
    _, body = world.points(member_id)
    assert body["balance"]["available"] == 30 and body["balance"]["redeemed"] == 20


def test_an_order_paid_with_points_redeems_them_from_the_canonical_order(world):
    world.flow(sale("p-1", "P-1", 5000))
    member_id = member_id_of(world)
    world.clock.now = SALE_AT + timedelta(days=8)
    world.flow(sale("p-2", "P-2", 500, points_redeemed=40, occurred_at=world.clock.now.isoformat()))
    _, body = world.points(member_id)
    assert body["balance"]["available"] == 10 and body["balance"]["redeemed"] == 40
    assert ("redeemed", "pos#P-2", 40, "order") in [(h["kind"], h["order_ref"], h["points"], h["via"])
                                                   for h in body["history"]]


def test_route_errors(world):
    world.flow(sale("e-1", "E-1", 100))
    member_id = member_id_of(world)
    assert world.points("nobody")[0] == 404
    assert world.redeem("nobody", {"points": 1, "order_ref": "x"})[0] == 404
    status, body = world.redeem(member_id, {"points": 0, "order_ref": "x"})
    assert status == 422 and body["details"][0]["field"] == "points"
    assert world.redeem(member_id, {"points": 1})[0] == 422
    assert world.redeem(member_id, {"points": 1, "order_ref": "x", "extra": 1})[0] == 422


def test_concurrent_redemptions_never_overdraw(world, aws):
    world.flow(sale("c-1", "C-1", 10000))
    member_id = member_id_of(world)
    clock = Clock(SALE_AT + timedelta(days=8))
    store = LoyaltyStore(world.services.settings)
    threads_n = 8
    barrier = threading.Barrier(threads_n)
    conflicts = []

    class RacingStore:
        """Every thread reads the same version before anyone writes: all but one must read again."""

        def __init__(self) -> None:
            self.first = True

        def read(self, ids):
            got = store.read(ids)
            if self.first:
                self.first = False
                barrier.wait(timeout=10)
            return got

        def commit(self, accounts, tiers=()):
            try:
                store.commit(accounts, tiers)
            except Conflict:
                conflicts.append(1)
                raise

        def tier_members(self, tier_id):
            return store.tier_members(tier_id)

    outcomes: list[str] = []

    def redeem(ref: str, points: int) -> None:
        loyalty = Loyalty(RacingStore(), world.services.loyalty.policy, lambda events: None, clock)
        try:
            loyalty.redeem(member_id, points, ref)
            outcomes.append("redeemed")
        except NotEnoughPoints:
            outcomes.append("refused")

    def race(*args_of_each: tuple[str, int]) -> None:
        threads = [threading.Thread(target=redeem, args=args) for args in args_of_each]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    world.clock.now = clock.now
    race(*[(f"ref-{n}", 30) for n in range(threads_n)])
    assert sorted(outcomes) == ["redeemed"] * 3 + ["refused"] * 5
    assert conflicts, "the threads raced for the same version"
    _, body = world.points(member_id)
    assert body["balance"]["available"] == 10 and body["balance"]["redeemed"] == 90

    barrier.reset()
    outcomes.clear()
    race(*[("same-ref", 5) for _ in range(threads_n)])
    assert outcomes == ["redeemed"] * threads_n, "the same order_ref is the same redemption for everyone"
    _, body = world.points(member_id)
    assert body["balance"]["available"] == 5 and body["balance"]["redeemed"] == 95
    assert [h["points"] for h in body["history"] if h["order_ref"] == "same-ref"] == [5]


def test_merged_members_bring_their_points_and_tier_together(world, aws):
    world.flow(sale("m-1", "M-1", 2000, phone="0955-808-909"))
    world.flow(sale("m-2", "M-2", 31000, phone=None, pos_member_no="P-77"))
    world.clock.now = SALE_AT + timedelta(days=1)
    envelopes = world.flow(sale("m-3", "M-3", 1000, phone="0955808909", pos_member_no="P-77"))
    merged = [e["detail"] for e in envelopes if e["detail-type"] == "member.merged"]
    assert len(merged) == 1
    survivor, absorbed = merged[0]["survivor_id"], merged[0]["absorbed_id"]
    _, body = world.points(survivor)
    assert body["balance"]["earned"] == 20 + 310 + 20
    assert {h["order_ref"] for h in body["history"]} == {"pos#M-1", "pos#M-2", "pos#M-3"}
    assert world.points(absorbed)[1]["member_id"] == survivor
    assert raw_member(aws, survivor)["tier"]["S"] == "gold"
    assert "tier_key" not in raw_member(aws, absorbed)
    assert by_tier(aws, "gold") == {survivor}
    world.deliver([e for e in envelopes if e["detail-type"] == "member.merged"])
    assert world.points(survivor)[1]["balance"]["earned"] == 350
    _, view = world.member(absorbed)
    assert view["member_id"] == survivor and view["tier"]["id"] == "gold"


def test_the_monthly_review_moves_down_who_no_longer_qualifies_once(world, aws, lambda_context):
    world.flow(sale("v-1", "V-1", 12000, phone="0955-111-333"))
    world.flow(sale("v-2", "V-2", 31000, phone="0955-111-444"))
    keeps = member_id_of(world, "+886955111444")
    drops = member_id_of(world, "+886955111333")
    world.clock.now = SALE_AT + timedelta(days=200)
    world.flow(sale("v-3", "V-3", 30000, phone="0955-111-444", occurred_at=world.clock.now.isoformat()))
    world.clock.now = SALE_AT + timedelta(days=370)
    review = load_handler("TierReviewFunction")
    result = review.lambda_handler({}, lambda_context, world.services)
    assert result["downgraded"] == 1 and result["moves"] == {"silver>regular": 1}
    assert result["checked"] == 2
    assert raw_member(aws, drops)["tier"]["S"] == "regular" and raw_member(aws, keeps)["tier"]["S"] == "gold"
    world.bus.extend(published(aws))
    downs = [c for c in world.tier_changes() if c["direction"] == "down"]
    assert [(c["member_id"], c["from_tier"], c["to_tier"]) for c in downs] == [(drops, "silver", "regular")]
    assert "below 銀卡's NT$10,000" in downs[0]["reason"]
    again = review.lambda_handler({}, lambda_context, world.services)
    assert again["downgraded"] == 0 and again["checked"] == 1
    world.bus.extend(published(aws))
    assert len([c for c in world.tier_changes() if c["direction"] == "down"]) == 1
