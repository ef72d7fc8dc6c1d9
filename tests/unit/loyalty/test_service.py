"""The loyalty service over an in-memory store: retries, redeliveries, merge pointers, the review."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from omo2c.core.errors import Conflict, NotFound
from omo2c.core.settings import Settings
from omo2c.events import MemberMerged, OrderRecorded
from omo2c.loyalty.model import LoyaltyPolicy, NotEnoughPoints, epoch_ms
from omo2c.loyalty.service import Loyalty
from tests.support.aws import load_handler, sqs_event
from tests.unit.loyalty.memory import MemoryLoyaltyStore

T0 = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world():
    store = MemoryLoyaltyStore(("m1", "m2"))
    clock, published = Clock(), []
    loyalty = Loyalty(store, LoyaltyPolicy.from_settings(Settings()), published.extend, clock, sleep=lambda _: None)
    return SimpleNamespace(store=store, clock=clock, published=published, loyalty=loyalty)


def order(member: str, order_id: str, net: int, version: int = 1, status: str = "open", at: datetime = T0,
          points: int = 0) -> OrderRecorded:
    return OrderRecorded(event_id=f"{order_id}-{version}", event_type="order.created", member_id=member,
                         source="pos", order_id=order_id, channel="pos", total=net, net=net, net_kept=net,
                         status=status, placed_at=epoch_ms(at), version=f"{version:08d}", points_redeemed=points,
                         occurred_at=at)


def test_an_order_earns_and_sets_the_tier_on_the_member_item(world):
    assert world.loyalty.record(order("m1", "A", 12000)) == "tier changed"
    assert world.store.members["m1"].tier == "silver"
    assert [(e.from_tier, e.to_tier) for e in world.published] == [(None, "silver")]
    assert world.loyalty.record(order("m1", "B", 100)) == "points updated"


def test_a_redelivery_changes_nothing_and_publishes_its_tier_change_again(world):
    world.loyalty.record(order("m1", "A", 12000))
    commits = world.store.commits
    assert world.loyalty.record(order("m1", "A", 12000)) == "already applied"
    assert world.store.commits == commits
    assert [e.to_tier for e in world.published] == ["silver", "silver"]
    world.loyalty.record(order("m1", "A", 12000, version=2, status="cancelled"))
    assert world.loyalty.record(order("m1", "A", 12000)) == "already applied"
    assert len(world.published) == 2


def test_a_write_that_loses_a_race_reads_again(world):
    world.store.fail_next_commits = 3
    assert world.loyalty.record(order("m1", "A", 500)) == "tier changed"
    assert world.store.reads == 4


def test_a_write_that_keeps_losing_gives_up_with_a_conflict(world):
    world.store.fail_next_commits = 100
    with pytest.raises(Conflict):
        world.loyalty.record(order("m1", "A", 500))


def test_an_order_without_a_member_is_skipped(world):
    assert world.loyalty.record(order("", "A", 500)) == "no member"


def test_a_member_without_a_member_item_still_collects_points(world):
    world.loyalty.record(order("ghost", "A", 500))
    assert world.store.accounts["ghost"].tier == "regular" and "ghost" not in world.store.members


def test_redeem_is_idempotent_by_order_ref_and_never_overdraws(world):
    world.loyalty.record(order("m1", "A", 5000))
    world.clock.now = T0 + timedelta(days=8)
    first = world.loyalty.redeem("m1", 30, "web-1")
    assert first["points"] == 30 and first["balance"]["available"] == 20
    assert world.loyalty.redeem("m1", 30, "web-1") == first
    with pytest.raises(NotEnoughPoints, match="only 20 points"):
        world.loyalty.redeem("m1", 21, "web-2")
    with pytest.raises(NotFound):
        world.loyalty.redeem("nobody", 1, "x")
    with pytest.raises(NotFound):
        world.loyalty.points("")


def test_points_of_a_member_with_no_orders_are_zero(world):
    body = world.loyalty.points("m2")
    assert body["balance"]["available"] == 0 and body["history"] == []
    assert world.loyalty.summary("m2") is None and world.loyalty.summary("x" * 65) is None


def test_orders_and_reads_of_a_merged_member_go_to_the_survivor(world):
    world.loyalty.record(order("m1", "A", 500))
    world.loyalty.record(order("m2", "B", 31000))
    world.store.merge_members("m1", "m2")
    merge = MemberMerged(survivor_id="m1", absorbed_id="m2", merge_id="g1", event_id="e", occurred_at=T0)
    assert world.loyalty.merge(merge) == "merged"
    assert world.store.accounts["m1"].tier == "gold" and world.store.members["m2"].tier is None
    assert world.store.members["m1"].tier == "gold"
    assert world.loyalty.merge(merge) == "already merged"
    world.loyalty.record(order("m2", "C", 100))
    assert "pos#C" in world.store.accounts["m1"].lots
    assert world.loyalty.points("m2")["member_id"] == "m1"
    assert world.loyalty.summary("m2")["tier"]["id"] == "gold"


def test_an_order_of_an_absorbed_member_arriving_before_the_merge_event_counts_once(world):
    world.loyalty.record(order("m2", "B", 1000))
    world.store.merge_members("m1", "m2")
    world.loyalty.record(order("m2", "B", 800, version=2))
    assert world.store.accounts["m1"].lots["pos#B"].version == "00000002"
    world.loyalty.merge(MemberMerged(survivor_id="m1", absorbed_id="m2", merge_id="g1", event_id="e",
                                     occurred_at=T0))
    lot = world.store.accounts["m1"].lots["pos#B"]
    assert (lot.version, lot.net, lot.earned) == ("00000002", 800, 8)
    assert world.loyalty.points("m1")["balance"]["earned"] == 8


def test_a_merge_of_a_member_without_loyalty_moves_nothing(world):
    merge = MemberMerged(survivor_id="m1", absorbed_id="m2", merge_id="g1", event_id="e", occurred_at=T0)
    assert world.loyalty.merge(merge) == "nothing to move"


def test_the_review_moves_down_only_who_no_longer_qualifies_and_twice_changes_nothing(world):
    world.loyalty.record(order("m1", "A", 31000))
    world.loyalty.record(order("m2", "B", 12000, at=T0 + timedelta(days=200)))
    world.published.clear()
    year = T0 + timedelta(days=380)
    result = world.loyalty.review(year)
    assert result["downgraded"] == 1 and result["moves"] == {"gold>regular": 1}
    assert world.store.members["m1"].tier == "regular" and world.store.members["m2"].tier == "silver"
    assert [(e.member_id, e.direction) for e in world.published] == [("m1", "down")]
    again = world.loyalty.review(year)
    assert again["downgraded"] == 0 and len(world.published) == 1


def test_the_consumer_calls_loyalty_then_coupons_for_orders_and_loyalty_for_merges(lambda_context):
    calls = []
    services = SimpleNamespace(
        loyalty=SimpleNamespace(record=lambda e: calls.append(("loyalty", e.order_id)) or "points updated",
                                merge=lambda e: calls.append(("merge", e.merge_id)) or "merged"),
        coupons=SimpleNamespace(record_order=lambda e: calls.append(("coupons", e.order_id))))
    envelope = {"version": "0", "id": "1", "detail-type": "order.recorded", "source": "omo2c.ingest",
                "time": "2026-05-01T02:00:00Z", "detail": order("m1", "A", 100).model_dump(mode="json")}
    merged = {**envelope, "detail-type": "member.merged",
              "detail": MemberMerged(survivor_id="m1", absorbed_id="m2", merge_id="g1", event_id="e",
                                     occurred_at=T0).model_dump(mode="json")}
    consumer = load_handler("LoyaltyFunction")
    assert consumer.lambda_handler(sqs_event([envelope, merged, {"nope": 1}]), lambda_context, services) == {
        "batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert calls == [("loyalty", "A"), ("coupons", "A"), ("merge", "g1")]


def test_the_review_function_ignores_its_event_and_reviews_now(lambda_context):
    seen = []
    services = SimpleNamespace(clock=lambda: T0, loyalty=SimpleNamespace(
        review=lambda now: seen.append(now) or {"at": now.isoformat(), "checked": 0, "downgraded": 0, "moves": {}}))
    result = load_handler("TierReviewFunction").lambda_handler({"anything": True}, lambda_context, services)
    assert seen == [T0] and result["downgraded"] == 0
