"""Coupon rules without AWS: codes, templates, discounts, a coupon's state, what a redemption may do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from omo2c.core.errors import Conflict, Gone, InvalidEvent, NotFound, Unavailable
from omo2c.coupons import model
from omo2c.coupons.model import Coupon, CouponTemplate, Redemption, may_redeem
from omo2c.coupons.service import Coupons
from omo2c.events import OrderRecorded
from omo2c.staff.model import CODE_ALPHABET

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def coupon(**changes) -> Coupon:
    base = {"code": "abcdefghjk", "member_id": "m1", "template_id": "t1", "name": "滿千折百", "kind": "amount",
            "value": Decimal(100), "min_spend": Decimal(1000), "issued_at": NOW - timedelta(days=1),
            "expires_at": NOW + timedelta(days=29), "issued_by": "admin"}
    return Coupon(**(base | changes))


def test_codes_are_short_unguessable_typeable_and_accepted_in_any_case():
    codes = {model.new_code() for _ in range(2000)}
    assert len(codes) == 2000 and all(len(c) == 10 and set(c) <= set(CODE_ALPHABET) for c in codes)
    assert model.display_code("abcdefghjk") == "ABCDEFGHJK"
    for typed in ("ABCDEFGHJK", "abcde-fghjk", " AbCdE FgHjK "):
        assert model.normal_code(typed) == "abcdefghjk"
    for wrong in ("", "abc", "abcdefghjkm", "abcdefghj0", "abcdefghjl", "abcdefgh/k"):
        assert model.normal_code(wrong) is None, wrong
    assert len(model.SAMPLE_CODE) == model.CODE_LENGTH


def test_issuers_and_the_staff_month():
    for good in ("welcome", "admin", "tier:gold", "campaign:abc123", "staff:S001"):
        assert model.valid_issuer(good), good
    for bad in ("", "someone", "staff:", "tier: gold", "Admin"):
        assert not model.valid_issuer(bad), bad
    assert model.staff_of("staff:S001") == "S001" and model.staff_of("admin") is None
    # 23:30 UTC on the 30th is already the 1st in Taipei: the cap counts the brand's month
    assert model.staff_month(datetime(2026, 11, 30, 23, 30, tzinfo=UTC), "Asia/Taipei") == "2026-12"


def test_a_template_names_what_is_wrong_with_its_offer():
    good = CouponTemplate("t1", "九折", "percent", Decimal(10), Decimal(0), 30, 1)
    assert good.problems() == []
    for changes, field in (({"value": Decimal(0)}, "value"), ({"value": Decimal(101)}, "value"),
                           ({"min_spend": Decimal(-1)}, "min_spend"), ({"valid_days": 0}, "valid_days"),
                           ({"per_member_limit": 0}, "per_member_limit"), ({"name": " "}, "name"),
                           ({"kind": "gift"}, "kind")):
        bad = CouponTemplate(**(good.__dict__ | changes))
        assert [p["field"] for p in bad.problems()] == [field], changes
    assert CouponTemplate(**(good.__dict__ | {"kind": "amount", "value": Decimal(500)})).problems() == []


def test_discounts_never_exceed_the_order_and_percentages_round_down():
    assert model.discount("amount", Decimal(100), Decimal(1280)) == Decimal(100)
    assert model.discount("amount", Decimal(100), Decimal(60)) == Decimal(60)
    assert model.discount("percent", Decimal(15), Decimal(999)) == Decimal(149)
    assert model.discount("percent", Decimal(100), Decimal(50)) == Decimal(50)
    assert model.discount("amount", Decimal(100), None) is None


def test_a_coupon_is_available_used_or_expired():
    assert coupon().state(NOW) == "available"
    assert coupon().state(NOW + timedelta(days=29)) == "expired", "expired at its moment exactly"
    used = coupon(status="redeemed", redemption=Redemption("pos#1", "ST01", NOW))
    assert used.state(NOW + timedelta(days=90)) == "used", "used stays used after its date"


def test_what_a_redemption_may_do():
    assert may_redeem(coupon(), "pos#1", "ST01", Decimal(1000), NOW) is True
    used = coupon(status="redeemed", redemption=Redemption("pos#1", "ST01", NOW))
    assert may_redeem(used, "pos#1", "ST02", None, NOW + timedelta(days=90)) is False, "the same order: as before"
    with pytest.raises(Conflict):
        may_redeem(used, "pos#2", "ST01", Decimal(1000), NOW)
    with pytest.raises(Gone):
        may_redeem(coupon(), "pos#1", "ST01", Decimal(1000), NOW + timedelta(days=30))
    for total in (Decimal(999), None):
        with pytest.raises(InvalidEvent) as caught:
            may_redeem(coupon(), "pos#1", "ST01", total, NOW)
        assert caught.value.details[0]["field"] == "order_total"
    assert may_redeem(coupon(min_spend=Decimal(0)), "ec#1", None, None, NOW), "no minimum: no total needed"
    with pytest.raises(InvalidEvent) as caught:
        may_redeem(coupon(store_ids=("ST02",)), "pos#1", "ST01", Decimal(1000), NOW)
    assert caught.value.details[0]["field"] == "store_id"
    with pytest.raises(InvalidEvent):
        may_redeem(coupon(store_ids=("ST02",)), "ec#1", None, Decimal(1000), NOW)


class OneCouponStore:
    """Just enough of the store for an order's redemptions: one coupon, or a DynamoDB that refuses."""

    def __init__(self, found: Coupon | None, refuse: bool = False) -> None:
        self.found, self.refuse, self.redeemed = found, refuse, []

    def coupon(self, code):
        if self.refuse:
            raise Unavailable("DynamoDB is throttling")
        return self.found if self.found and self.found.code == code else None

    def redeem(self, coupon, redemption):
        self.redeemed.append(redemption)
        return True


def order(codes, status="open") -> OrderRecorded:
    return OrderRecorded(member_id="m1", event_id="e1", event_type="order.created", source="pos", order_id="ST01-1",
                         channel="pos", store_id="ST01", total=1200, net=1100, net_kept=1100, status=status,
                         version="00000001", occurred_at=NOW, coupons=codes)


def test_an_order_skips_codes_it_cannot_redeem_and_retries_only_when_dynamodb_refuses():
    store = OneCouponStore(coupon())
    coupons = Coupons(store, lambda events: None, lambda: NOW)
    assert coupons.record_order(order(["ABCDEFGHJK", "nosuchcode", "x"])) == "1 redeemed, 2 skipped"
    assert [(r.order_ref, r.store_id, r.amount) for r in store.redeemed] == [("pos#ST01-1", "ST01", Decimal(1100))]
    assert coupons.record_order(order(["ABCDEFGHJK"], status="cancelled")).startswith("cancelled")
    with pytest.raises(Unavailable):
        Coupons(OneCouponStore(coupon(), refuse=True), lambda events: None, lambda: NOW).record_order(
            order(["ABCDEFGHJK"]))
    with pytest.raises(NotFound):
        coupons.redeem("nosuchcode", "pos#1", "ST01", Decimal(1000))


def test_the_staff_cap_and_zone_come_from_the_stores_settings_unless_given():
    class Settings:
        staff_coupon_monthly_cap, time_zone = 7, "Asia/Tokyo"

    class Store(OneCouponStore):
        settings = Settings()

    assert Coupons(Store(None), lambda e: None).staff_monthly_cap == 7
    assert Coupons(Store(None), lambda e: None, staff_monthly_cap=3).staff_monthly_cap == 3
    assert Coupons(OneCouponStore(None), lambda e: None).time_zone == "Asia/Taipei"
