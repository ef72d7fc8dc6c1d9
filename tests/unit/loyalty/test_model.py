"""Tiers and points as rules: earning, holding, take-backs, redemptions, expiry, merges, the review."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from omo2c.core.errors import Conflict, InvalidEvent
from omo2c.core.settings import Settings
from omo2c.events import OrderRecorded
from omo2c.loyalty.model import (
    LoyaltyAccount,
    LoyaltyPolicy,
    NotEnoughPoints,
    OrderFacts,
    add_months,
    epoch_ms,
)

T0 = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)
POLICY = LoyaltyPolicy.from_settings(Settings())


def order(ref: str, net: str | int, at: datetime = T0, version: int = 1, status: str = "open",
          points: int = 0) -> OrderFacts:
    return OrderFacts(f"pos#{ref}", f"{version:08d}", status, Decimal(str(net)), epoch_ms(at), points)


def apply(account: LoyaltyAccount, *orders: OrderFacts, now: datetime = T0,
          policy: LoyaltyPolicy = POLICY) -> tuple[LoyaltyAccount, list]:
    events = []
    for o in orders:
        assert not policy.applied(account, o)
        account, changed = policy.record_order(account, o, now)
        events += changed
    return account, events


def invariant(policy: LoyaltyPolicy, account: LoyaltyAccount, now: datetime) -> dict[str, int]:
    b = policy.balance(account, now)
    assert b["pending"] + b["available"] == b["earned"] - b["redeemed"] - b["expired"] + b["shortfall"]
    assert min(b.values()) >= 0
    return b


def test_settings_give_the_three_tiers_of_the_issue():
    assert [(t.id, t.name, t.min_spend, t.points_rate) for t in POLICY.tiers] == [
        ("regular", "一般會員", 0, 1), ("silver", "銀卡", 10000, Decimal("1.5")), ("gold", "金卡", 30000, 2)]
    assert POLICY.per_amount == 100 and POLICY.holding_days == 7 and POLICY.expiry_months == 12
    assert POLICY.tiers[2].benefits == ("生日禮", "免運")


def test_a_bad_configuration_is_refused():
    with pytest.raises(InvalidEvent):
        LoyaltyPolicy(())
    with pytest.raises(InvalidEvent):
        LoyaltyPolicy(POLICY.tiers, window="forever")
    with pytest.raises(InvalidEvent):
        LoyaltyPolicy((*POLICY.tiers, POLICY.tiers[0]))


def test_tiers_are_kept_in_threshold_order_whatever_the_configuration_says():
    policy = LoyaltyPolicy(tuple(reversed(POLICY.tiers)))
    assert policy.base.id == "regular" and [t.id for t in policy.tiers] == ["regular", "silver", "gold"]


def test_order_facts_from_the_bus_event():
    event = OrderRecorded(event_id="e", event_type="order.created", member_id="m", source="pos", order_id="A-1",
                          channel="pos", total=1280, net=1280, net_kept=1280, status="open", placed_at=None,
                          version="00000002", points_redeemed=30, occurred_at=T0)
    facts = OrderFacts.from_event(event)
    assert (facts.ref, facts.version, facts.placed_at, facts.points_redeemed) == ("pos#A-1", "00000002",
                                                                                  epoch_ms(T0), 30)
    assert facts.counted == 1280
    assert order("x", 500, status="pending").counted == 0 and order("x", 500, status="cancelled").counted == 0
    assert order("x", -5).counted == 0


def test_points_round_down_at_the_rate_of_the_tier_held():
    assert POLICY.points_for(Decimal(1280), Decimal(1)) == 12
    assert POLICY.points_for(Decimal(1280), Decimal("1.5")) == 19
    assert POLICY.points_for(Decimal("99.99"), Decimal(2)) == 1
    assert POLICY.points_for(Decimal(0), Decimal(2)) == 0


def test_first_order_gives_the_base_tier_and_pending_points():
    account, events = apply(LoyaltyAccount("m1"), order("1", 1280))
    assert account.tier == "regular" and account.tier_since == epoch_ms(T0)
    assert [(e.from_tier, e.to_tier, e.direction, e.order_ref) for e in events] == [(None, "regular", "up", "pos#1")]
    assert "first order pos#1" in events[0].reason
    assert invariant(POLICY, account, T0)["pending"] == 12
    week = T0 + timedelta(days=7)
    assert POLICY.balance(account, week)["available"] == 12 and POLICY.balance(account, week)["pending"] == 0


def test_a_pending_order_gives_the_tier_and_no_points():
    account, events = apply(LoyaltyAccount("m1"), order("1", 1280, status="pending"))
    assert account.tier == "regular" and len(events) == 1
    assert POLICY.balance(account, T0)["earned"] == 0


def test_upgrade_at_once_on_the_order_that_crosses_the_threshold_at_the_old_rate():
    account, _ = apply(LoyaltyAccount("m1"), order("1", 6000))
    account, events = apply(account, order("2", 5000, T0 + timedelta(days=1)), now=T0 + timedelta(days=1))
    assert [(e.from_tier, e.to_tier, e.direction, e.order_ref) for e in events] == [
        ("regular", "silver", "up", "pos#2")]
    assert events[0].spend_in_window == 11000
    assert "NT$11,000" in events[0].reason and "銀卡 starts at NT$10,000" in events[0].reason
    assert account.lots["pos#2"].earned == 50
    account, _ = apply(account, order("3", 1000, T0 + timedelta(days=2)), now=T0 + timedelta(days=2))
    assert account.lots["pos#3"].earned == 15


def test_a_big_first_order_goes_straight_to_gold():
    account, events = apply(LoyaltyAccount("m1"), order("1", 30000))
    assert account.tier == "gold" and [(e.from_tier, e.to_tier) for e in events] == [(None, "gold")]


def test_a_refund_never_downgrades_mid_period_by_default():
    account, _ = apply(LoyaltyAccount("m1"), order("1", 12000))
    account, events = apply(account, order("1", 2000, version=2))
    assert account.tier == "silver" and events == []


def test_a_refund_downgrades_at_once_when_the_setting_says_so():
    policy = LoyaltyPolicy.from_settings(Settings(tier_review_downgrades_on_refund=True))
    account, _ = apply(LoyaltyAccount("m1"), order("1", 12000), policy=policy)
    account, events = apply(account, order("1", 2000, version=2), policy=policy)
    assert [(e.from_tier, e.to_tier, e.direction) for e in events] == [("silver", "regular", "down")]
    assert "refund of order pos#1" in events[0].reason


def test_a_refund_takes_back_what_the_order_no_longer_earns():
    account, _ = apply(LoyaltyAccount("m1"), order("1", 1280))
    account, _ = apply(account, order("1", 1000, version=2))
    lot = account.lots["pos#1"]
    assert (lot.earned, lot.credited, lot.taken, lot.short) == (10, 12, 2, 0)
    account, _ = apply(account, order("1", 0, version=3, status="cancelled"))
    assert invariant(POLICY, account, T0)["pending"] == 0


def test_a_take_back_of_points_already_spent_comes_from_other_points_then_is_recorded_short():
    later = T0 + timedelta(days=8)
    account, _ = apply(LoyaltyAccount("m1"), order("1", 10000), order("2", 2000))
    account, _, _ = POLICY.redeem(account, 100, "r1", later)
    account, _ = apply(account, order("1", 0, version=2, status="cancelled"), now=later)
    b = invariant(POLICY, account, later)
    assert account.lots["pos#2"].rate == Decimal("1.5") and account.lots["pos#2"].taken == 30
    assert account.lots["pos#1"].short == 70
    assert (b["available"], b["redeemed"], b["shortfall"], b["earned"]) == (0, 100, 70, 30)


def test_a_take_back_of_expired_points_unexpires_them_instead_of_taking_others():
    year = T0 + timedelta(days=400)
    account, _ = apply(LoyaltyAccount("m1"), order("1", 1000))
    account, _ = apply(account, order("2", 500, year), now=year)
    assert POLICY.balance(account, year)["expired"] == 10
    account, _ = apply(account, order("1", 0, version=2, status="cancelled"), now=year)
    b = invariant(POLICY, account, year)
    assert (b["expired"], b["pending"], b["shortfall"]) == (0, 5, 0)


def test_redemptions_take_the_points_expiring_first_all_or_nothing():
    a, b = T0, T0 + timedelta(days=20)
    now = T0 + timedelta(days=30)
    account, _ = apply(LoyaltyAccount("m1"), order("a", 1000, a), order("b", 1000, b), now=b)
    with pytest.raises(NotEnoughPoints) as refused:
        POLICY.redeem(account, 21, "r1", now)
    assert refused.value.available == 20 and refused.value.status == 409 and "20 points" in refused.value.message
    account, redemption, changed = POLICY.redeem(account, 15, "r1", now)
    assert changed and redemption.allocation == [("pos#a", 10), ("pos#b", 5)]
    same, again, changed = POLICY.redeem(account, 15, "r1", now)
    assert not changed and same is account and again is redemption
    with pytest.raises(Conflict):
        POLICY.redeem(account, 5, "r1", now)
    assert invariant(POLICY, account, now)["available"] == 5


def test_pending_points_cannot_be_redeemed():
    account, _ = apply(LoyaltyAccount("m1"), order("1", 5000))
    with pytest.raises(NotEnoughPoints):
        POLICY.redeem(account, 1, "r", T0 + timedelta(days=6))


def test_points_expire_after_the_months_of_the_setting_oldest_first():
    account, _ = apply(LoyaltyAccount("m1"), order("old", 1000, T0))
    newer = T0 + timedelta(days=60)
    account, _ = apply(account, order("new", 2000, newer), now=newer)
    expiry = add_months(T0.astimezone(POLICY.zone), 12)
    before = POLICY.balance(account, expiry - timedelta(seconds=1))
    assert (before["available"], before["expiring_soon"], before["expired"]) == (30, 10, 0)
    after = invariant(POLICY, account, expiry)
    assert (after["available"], after["expired"]) == (20, 10)
    assert [e["kind"] for e in POLICY.history(account, expiry)] == ["earned", "earned", "expired"]


def test_add_months_keeps_the_day_where_the_month_has_it():
    assert add_months(datetime(2026, 1, 31), 1) == datetime(2026, 2, 28)
    assert add_months(datetime(2026, 11, 15), 14) == datetime(2028, 1, 15)


def test_an_order_paying_with_points_redeems_them_and_a_cancellation_gives_them_back():
    later = T0 + timedelta(days=10)
    account, _ = apply(LoyaltyAccount("m1"), order("1", 5000))
    account, _ = apply(account, order("2", 1000, later, points=30), now=later)
    assert account.redemptions["pos#2"].applied == 30 and account.redemptions["pos#2"].via == "order"
    assert POLICY.balance(account, later)["available"] == 20
    account, _ = apply(account, order("2", 0, later, version=2, status="cancelled", points=30), now=later)
    assert "pos#2" not in account.redemptions
    assert invariant(POLICY, account, later)["available"] == 50


def test_an_order_asking_more_points_than_available_records_the_unredeemed_part():
    later = T0 + timedelta(days=10)
    account, _ = apply(LoyaltyAccount("m1"), order("1", 1000))
    account, _ = apply(account, order("2", 1000, later, points=25), now=later)
    b = invariant(POLICY, account, later)
    assert (b["redeemed"], b["unredeemed"], b["available"]) == (10, 15, 0)


def test_an_api_redemption_under_the_order_reference_counts_once_when_the_order_names_it():
    later = T0 + timedelta(days=10)
    account, _ = apply(LoyaltyAccount("m1"), order("1", 5000))
    account, _, _ = POLICY.redeem(account, 30, "pos#2", later)
    account, _ = apply(account, order("2", 1000, later, points=30), now=later)
    assert POLICY.balance(account, later)["redeemed"] == 30
    account, _ = apply(account, order("2", 1000, later, version=2), now=later)
    assert POLICY.balance(account, later)["redeemed"] == 30


def test_rolling_window_spend_and_the_review():
    account, _ = apply(LoyaltyAccount("m1"), order("1", 12000))
    assert POLICY.window_spend(account, T0 + timedelta(days=364)) == 12000
    assert POLICY.review(account, T0 + timedelta(days=364))[1] == []
    reviewed, events = POLICY.review(account, T0 + timedelta(days=366))
    assert reviewed.tier == "regular"
    assert [(e.from_tier, e.to_tier, e.direction, e.order_ref) for e in events] == [
        ("silver", "regular", "down", None)]
    assert "below 銀卡's NT$10,000" in events[0].reason
    assert POLICY.review(reviewed, T0 + timedelta(days=367))[1] == []


def test_calendar_year_tiers_hold_through_the_next_year():
    policy = LoyaltyPolicy.from_settings(Settings(tier_window="calendar_year"))
    account, _ = apply(LoyaltyAccount("m1"), order("1", 31000), policy=policy)
    next_year = datetime(2027, 12, 1, tzinfo=UTC)
    assert policy.window_spend(account, next_year) == 0
    assert policy.review(account, next_year)[1] == []
    reviewed, events = policy.review(account, datetime(2028, 1, 1, tzinfo=UTC))
    assert reviewed.tier == "regular" and events[0].direction == "down"


def test_calendar_years_are_the_brands_time_zone():
    policy = LoyaltyPolicy.from_settings(Settings(tier_window="calendar_year"))
    new_year_in_taipei = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)
    account, _ = apply(LoyaltyAccount("m1"), order("1", 500, new_year_in_taipei), now=new_year_in_taipei, policy=policy)
    assert policy.window_spend(account, datetime(2027, 1, 2, tzinfo=UTC)) == 500
    assert account.spend_by_month(policy.zone) == {"2027-01": 500}


def test_merge_moves_everything_once_and_keeps_the_better_tier():
    survivor, _ = apply(LoyaltyAccount("s"), order("1", 2000))
    absorbed, _ = apply(LoyaltyAccount("a"), order("2", 31000))
    merged, tombstone, events = POLICY.merge(survivor, absorbed, "mg1", T0)
    assert merged.tier == "gold" and set(merged.lots) == {"pos#1", "pos#2"} and merged.merges == ["mg1"]
    assert [(e.from_tier, e.to_tier, e.direction) for e in events] == [("regular", "gold", "up")]
    assert tombstone.merged_into == "s" and tombstone.lots == {} and tombstone.merges == ["mg1"]
    assert invariant(POLICY, merged, T0)["earned"] == 20 + 310


def test_merge_counts_an_order_both_hold_once_at_its_newer_state():
    later = T0 + timedelta(days=10)
    survivor, _ = apply(LoyaltyAccount("s"), order("1", 600, version=2), now=later)
    absorbed, _ = apply(LoyaltyAccount("a"), order("1", 1000))
    absorbed, _, _ = POLICY.redeem(absorbed, 10, "r-a", later)
    merged, _, _ = POLICY.merge(survivor, absorbed, "mg1", later)
    lot = merged.lots["pos#1"]
    assert (lot.version, lot.net, lot.earned) == ("00000002", 600, 6)
    b = invariant(POLICY, merged, later)
    assert (b["earned"], b["redeemed"]) == (6, 10)
    assert POLICY.window_spend(merged, later) == 600


def test_merge_never_lowers_the_survivors_tier():
    survivor, _ = apply(LoyaltyAccount("s"), order("1", 31000))
    absorbed, _ = apply(LoyaltyAccount("a"), order("2", 100))
    merged, _, events = POLICY.merge(survivor, absorbed, "mg1", T0)
    assert merged.tier == "gold" and events == []


def test_the_summary_others_read():
    account, _ = apply(LoyaltyAccount("m1"), order("1", 12000))
    later = T0 + timedelta(days=8)
    summary = POLICY.summary(account, later)
    assert summary == {
        "tier": {"id": "silver", "name": "銀卡", "since": "2026-03-10T04:00:00Z", "spend_in_window": "12000",
                 "next_tier": {"id": "gold", "name": "金卡", "min_spend": "30000"}, "amount_to_next": "18000",
                 "benefits": ["生日禮"]},
        "points": {"available": 120, "pending": 0, "expiring_soon": 0}}
    top, _ = apply(account, order("2", 20000, later), now=later)
    assert POLICY.summary(top, later)["tier"]["next_tier"] is None
    assert POLICY.summary(top, later)["tier"]["amount_to_next"] is None
    assert POLICY.summary(None, later) is None and POLICY.summary(LoyaltyAccount("x"), later) is None


def test_history_lists_earnings_take_backs_and_redemptions_oldest_first():
    later = T0 + timedelta(days=8)
    account, _ = apply(LoyaltyAccount("m1"), order("1", 5000))
    account, _, _ = POLICY.redeem(account, 20, "web-1", later)
    account, _ = apply(account, order("1", 4000, version=2), now=later)
    kinds = [(e["kind"], e["points"], e["via"]) for e in POLICY.history(account, later)]
    assert kinds == [("earned", 50, None), ("taken_back", 10, None), ("redeemed", 20, "api")]
