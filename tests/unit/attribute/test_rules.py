"""Who gets the credit: the rules and their trace, without AWS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from omo2c.attribution.rules import AttributionPolicy, OrderFacts, decide_credit
from omo2c.binding.model import Binding, BindingPolicy
from omo2c.staff.model import Staff, StaffCode
from tests.support.ledger import Lookups

PLACED = datetime(2026, 11, 20, 12, tzinfo=UTC)
POLICY = AttributionPolicy(referral_valid_days=7, binding=BindingPolicy(expiry_days=180))
AMY = Staff("S001", "Amy", "ST01")
BEN = Staff("S002", "Ben", "ST02")


def order(**changes) -> OrderFacts:
    base = dict(source="shopify", order_id="1", channel="ec", status="open", version="1", event_type="order.created",
                member_id="m1", store_id=None, staff_id=None, referral_code=None, placed_at=PLACED,
                net_kept=Decimal(1000), currency="TWD")
    return OrderFacts(**(base | changes))


def binding(staff="S001", bound=PLACED - timedelta(days=40), last=None):
    return Binding(staff, "ST01", bound, "qr", "test", last or bound)


def test_pos_order_goes_to_the_checkout_staff():
    credit = decide_credit(order(channel="pos", staff_id="S002", store_id="ST02"), Lookups([BEN]), POLICY)
    assert (credit.rule, credit.staff_id, credit.store_id) == ("pos_checkout_staff", "S002", "ST02")


def test_valid_referral_code_beats_the_binding():
    code = StaffCode("abc", "S002", "active", PLACED - timedelta(days=300))
    shared = int((PLACED - timedelta(days=2)).timestamp())
    lookups = Lookups([AMY, BEN], [code], {"m1": binding()})
    credit = decide_credit(order(referral_code=f"abc.{shared}"), lookups, POLICY)
    assert credit.rule == "referral_code" and credit.staff_id == "S002"
    assert [t.rule for t in credit.trace] == ["pos_checkout_staff", "referral_code"]


def test_expired_or_rotated_code_falls_through_to_the_binding():
    old_click = int((PLACED - timedelta(days=8)).timestamp())
    lookups = Lookups([AMY, BEN], [StaffCode("abc", "S002", "active", PLACED), StaffCode("old", "S002", "retired",
                                                                                         PLACED)], {"m1": binding()})
    expired = decide_credit(order(referral_code=f"abc.{old_click - 10}.{old_click}"), lookups, POLICY)
    assert expired.rule == "active_binding" and expired.staff_id == "S001"
    assert "expired" in expired.trace[1].reason and "click" in expired.trace[1].reason
    rotated = decide_credit(order(referral_code="old"), lookups, POLICY)
    assert rotated.rule == "active_binding" and "rotated" in rotated.trace[1].reason


def test_binding_expires_without_interaction_and_must_predate_the_order():
    lookups = Lookups([AMY], bindings={"m1": binding(bound=PLACED - timedelta(days=400))})
    assert decide_credit(order(), lookups, POLICY).rule == "unattributed"
    later = Lookups([AMY], bindings={"m1": binding(bound=PLACED + timedelta(days=1))})
    credit = decide_credit(order(), later, POLICY)
    assert credit.rule == "unattributed" and "after the order" in credit.trace[2].reason


def test_departed_staff_hand_credit_to_their_transfer_target_or_store():
    gone = Staff("S001", "Amy", "ST01", "left", transfer_to_staff_id="S002")
    credit = decide_credit(order(), Lookups([gone, BEN], bindings={"m1": binding()}), POLICY)
    assert credit.staff_id == "S002" and "left" in credit.trace[-1].reason
    to_store = Staff("S001", "Amy", "ST01", "left", transfer_to_store_id="ST09")
    credit = decide_credit(order(), Lookups([to_store], bindings={"m1": binding()}), POLICY)
    assert (credit.staff_id, credit.store_id) == (None, "ST09")


def test_nobody_gets_it_with_every_reason_traced():
    credit = decide_credit(order(member_id=None), Lookups(), POLICY)
    assert credit.rule == "unattributed" and not credit.attributed
    assert [t.matched for t in credit.trace] == [False, False, False, True]
