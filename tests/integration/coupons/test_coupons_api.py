"""The coupons API against moto: templates, issuing, every answer of a redemption, wallets and reports."""

from __future__ import annotations

from datetime import UTC, datetime

from omo2c.events import OrderRecorded

MANAGER_ST01 = {"role": "manager", "staff_id": "", "store_id": "ST01", "key_id": "k1"}
STAFF = {"role": "staff", "staff_id": "S001", "store_id": "ST01", "key_id": ""}


def test_templates_are_created_listed_and_refused_when_the_offer_makes_no_sense(stack):
    first = stack.template(name="十元折價", value=10, min_spend=0)
    stack.clock.advance(seconds=1)
    second = stack.template(name="九折", kind="percent", value=10, store_ids=["ST01"])
    assert first["value"] == "10" and second["store_ids"] == ["ST01"] and second["kind"] == "percent"
    status, listed = stack.call("GET", "/coupon-templates", "/coupon-templates")
    assert status == 200 and [t["template_id"] for t in listed["templates"]] == [first["template_id"],
                                                                                  second["template_id"]]
    for bad in ({"kind": "percent", "value": 120}, {"value": 0}, {"kind": "gift"}, {"valid_days": 0},
                {"per_member_limit": 0}, {"min_spend": -1}, {"name": " "}, {"extra": 1}):
        body = {"name": "x", "kind": "amount", "value": 100, "valid_days": 30} | bad
        status, error = stack.call("POST", "/coupon-templates", "/coupon-templates", body)
        assert status == 422 and error["details"], bad
    assert stack.call("POST", "/coupon-templates", "/coupon-templates", "[]")[0] in (400, 422)


def test_an_admin_gives_a_member_a_coupon_with_its_own_code(stack):
    template = stack.template()
    member_id = stack.member(1)
    status, coupon = stack.issue(member_id, template["template_id"])
    assert status == 201 and coupon["state"] == "available" and coupon["issued_by"] == "admin"
    assert len(coupon["code"]) == 10 and coupon["code"] == coupon["code"].upper()
    _, other = stack.issue(member_id, template["template_id"])
    assert other["code"] != coupon["code"], "every coupon has its own code"
    assert stack.issue(member_id, "nope")[0] == 404
    assert stack.issue("no-such-member", template["template_id"])[0] == 404
    assert stack.call("POST", f"/members/{member_id}/coupons", "/members/{member_id}/coupons", {},
                      {"member_id": member_id})[0] == 422


def test_redemption_answers_200_again_for_the_same_order_409_for_another_410_404_422(stack):
    template = stack.template(min_spend=1000, valid_days=7)
    member_id = stack.member(2)
    _, coupon = stack.issue(member_id, template["template_id"])
    code = coupon["code"]

    assert stack.redeem(code, "pos#ST01-9", order_total=999)[0] == 422, "below the minimum spend"
    assert stack.redeem(code, "pos#ST01-9", order_total=None)[0] == 422, "the minimum needs the total"
    status, used = stack.redeem(code.lower(), "pos#ST01-9")
    assert status == 200 and used["state"] == "used"
    assert used["redemption"] | {"at": None} == {"order_ref": "pos#ST01-9", "store_id": "ST01", "at": None,
                                                 "order_total": "1280", "discount": "100"}
    status, again = stack.redeem(f"{code[:5]}-{code[5:]}", "pos#ST01-9")
    assert status == 200 and again["redemption"]["order_ref"] == "pos#ST01-9", "the same order: answered as before"
    status, error = stack.redeem(code, "pos#ST01-10")
    assert status == 409 and error["error"] == "conflict"
    assert stack.redeem("ABCDEFGHJK", "pos#ST01-9")[0] == 404
    assert stack.redeem("short", "pos#ST01-9")[0] == 404

    _, late = stack.issue(member_id, template["template_id"])
    stack.clock.advance(days=7, seconds=1)
    status, error = stack.redeem(late["code"], "pos#ST01-11")
    assert status == 410 and error["error"] == "gone"


def test_a_coupon_for_some_stores_and_a_stores_pos_key_redeem_only_there(stack):
    template = stack.template(min_spend=0, store_ids=["ST02"])
    member_id = stack.member(3)
    _, coupon = stack.issue(member_id, template["template_id"])
    assert stack.redeem(coupon["code"], "pos#A", store_id="ST01")[0] == 422
    assert stack.redeem(coupon["code"], "pos#A", store_id="ST02", caller=MANAGER_ST01)[0] == 403
    _, anywhere = stack.issue(member_id, stack.template(min_spend=0)["template_id"])
    status, used = stack.redeem(anywhere["code"], "pos#B", store_id="ST01", caller=MANAGER_ST01, order_total=None)
    assert status == 200 and used["redemption"]["discount"] is None
    assert stack.issue(member_id, template["template_id"])[0] == 201
    for method, path, route in (("GET", "/coupon-templates", "/coupon-templates"),
                                ("GET", f"/members/{member_id}/coupons", "/members/{member_id}/coupons")):
        assert stack.call(method, path, route, params={"member_id": member_id}, caller=MANAGER_ST01)[0] == 403
        assert stack.call(method, path, route, params={"member_id": member_id}, caller=STAFF)[0] == 403
    assert stack.redeem(anywhere["code"], "pos#B", caller=STAFF)[0] == 403


def test_the_wallet_shows_available_used_and_expired_and_the_report_counts_them(stack):
    short = stack.template(name="三日券", min_spend=0, valid_days=3)
    long = stack.template(name="月券", kind="percent", value=10, min_spend=0, valid_days=30)
    member_id = stack.member(4)
    _, expiring = stack.issue(member_id, short["template_id"])
    stack.clock.advance(seconds=5)
    _, used = stack.issue(member_id, long["template_id"])
    stack.clock.advance(seconds=5)
    _, kept = stack.issue(member_id, long["template_id"])
    assert stack.redeem(used["code"], "ec#E1", order_total=1999)[1]["redemption"]["discount"] == "199"
    stack.clock.advance(days=4)

    wallet = stack.wallet(member_id)
    assert (wallet["available"], wallet["used"], wallet["expired"]) == (1, 1, 1)
    assert [(c["code"], c["state"]) for c in wallet["coupons"]] == [
        (kept["code"], "available"), (used["code"], "used"), (expiring["code"], "expired")], "newest first"
    assert stack.wallet("someone-else")["coupons"] == []

    status, report = stack.call("GET", f"/coupon-templates/{long['template_id']}/report",
                                "/coupon-templates/{template_id}/report", params={"template_id": long["template_id"]})
    assert status == 200 and (report["issued"], report["redeemed"], report["revenue"]) == (2, 1, "1999")
    assert stack.call("GET", "/coupon-templates/nope/report", "/coupon-templates/{template_id}/report",
                      params={"template_id": "nope"})[0] == 404


def test_an_order_redeems_its_codes_once_whatever_the_redeliveries_and_skips_bad_ones(stack):
    template = stack.template(min_spend=500)
    member_id = stack.member(5)
    _, coupon = stack.issue(member_id, template["template_id"])
    stack.clock.advance(seconds=1)
    _, small = stack.issue(member_id, stack.template(min_spend=5000)["template_id"])
    now = datetime.now(tz=UTC)
    order = OrderRecorded(member_id=member_id, event_id="pos-o1", event_type="order.created", source="pos",
                          order_id="ST01-77", channel="pos", store_id="ST01", total=880, net=880, net_kept=880,
                          status="open", placed_at=int(now.timestamp() * 1000), version="00000001",
                          occurred_at=now, coupons=[coupon["code"], small["code"], "NOSUCHCODE", coupon["code"]])
    coupons = stack.services.coupons
    assert coupons.record_order(order) == "1 redeemed, 2 skipped"
    for _ in range(3):  # redelivered, and a later state of the same order
        assert coupons.record_order(order.model_copy(update={"version": "00000002"})) == "1 redeemed, 2 skipped"
    assert coupons.record_order(order.model_copy(update={"status": "cancelled"})).startswith("cancelled")
    other = order.model_copy(update={"order_id": "ST01-78", "coupons": [coupon["code"]]})
    assert coupons.record_order(other) == "1 skipped", "another order cannot reuse it"
    assert coupons.record_order(order.model_copy(update={"coupons": []})) == "no coupons"

    wallet = stack.wallet(member_id)
    assert [c["state"] for c in wallet["coupons"]] == ["available", "used"]
    assert wallet["coupons"][1]["redemption"]["order_ref"] == "pos#ST01-77"
    report = coupons.template_report(template["template_id"])
    assert (report["issued"], report["redeemed"], report["revenue"]) == (1, 1, "880"), "counted once"
