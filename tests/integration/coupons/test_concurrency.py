"""Coupons under threads, through the storage layer against moto: every rule is a condition of one
transaction, so it holds however the requests interleave."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from omo2c.core.errors import OmoError
from omo2c.core.settings import Settings
from omo2c.coupons.service import Coupons
from omo2c.coupons.storage import CouponStore

THREADS = 20


def together(calls: list[Callable[[], Any]]) -> list[tuple[int, Any]]:
    """Run every call at once (released by one barrier); each answers (status, result)."""
    barrier = threading.Barrier(len(calls))
    results: list[tuple[int, Any]] = [(0, None)] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = (200, call())
        except OmoError as error:
            results[i] = (error.status, error.code)
        except Exception as error:  # the test reports whatever went wrong
            results[i] = (500, repr(error))

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_twenty_orders_redeeming_one_code_at_once_exactly_one_wins(stack):
    coupons = stack.services.coupons
    template = stack.template(min_spend=0)
    code = stack.issue(stack.member(10), template["template_id"])[1]["code"]
    results = together([lambda n=n: coupons.redeem(code, f"pos#ST01-{n}", "ST01", Decimal(500))
                        for n in range(THREADS)])
    assert Counter(status for status, _ in results) == {200: 1, 409: THREADS - 1}, results
    (winner,) = [result for status, result in results if status == 200]
    assert coupons.redeem(code, winner["redemption"]["order_ref"], "ST01", Decimal(500))["state"] == "used"
    report = coupons.template_report(template["template_id"])
    assert (report["redeemed"], report["revenue"]) == (1, "500")


def test_the_same_order_redelivered_at_once_redeems_once_and_every_answer_is_200(stack):
    coupons = stack.services.coupons
    template = stack.template(min_spend=0)
    code = stack.issue(stack.member(11), template["template_id"])[1]["code"]
    results = together([lambda: coupons.redeem(code, "ec#E-9", "ST01", Decimal(300))] * THREADS)
    assert Counter(status for status, _ in results) == {200: THREADS}, results
    assert {r["redemption"]["order_ref"] for _, r in results} == {"ec#E-9"}
    report = coupons.template_report(template["template_id"])
    assert (report["redeemed"], report["revenue"]) == (1, "300"), "counted once"


def test_the_per_member_limit_holds_under_threads(stack):
    coupons = stack.services.coupons
    template = stack.template(per_member_limit=3)
    member_id = stack.member(12)
    results = together([lambda: coupons.issue(member_id, template["template_id"], "admin")] * 12)
    assert Counter(status for status, _ in results) == {200: 3, 409: 9}, results
    assert len({r["code"] for s, r in results if s == 200}) == 3
    assert len(stack.wallet(member_id)["coupons"]) == 3
    assert coupons.template_report(template["template_id"])["issued"] == 3, "a refused issue counts nothing"


def test_the_staff_monthly_cap_holds_under_threads(stack):
    settings = Settings.from_env().model_copy(update={"staff_coupon_monthly_cap": 4})
    coupons = Coupons(CouponStore(settings), stack.services.publish, stack.clock)
    template = stack.template(per_member_limit=1)
    members = [stack.member(20 + n) for n in range(10)]
    results = together([lambda m=m: coupons.issue(m, template["template_id"], "staff:S001") for m in members])
    assert Counter(status for status, _ in results) == {200: 4, 409: 6}, results
    other = coupons.issue(members[0], stack.template()["template_id"], "staff:S002")
    assert other["issued_by"] == "staff:S002", "the cap is each staff member's own"
    refused = next(m for m, (status, _) in zip(members, results, strict=True) if status == 409)
    stack.clock.advance(days=32)
    assert coupons.issue(refused, template["template_id"], "staff:S001")["state"] == "available", "a new month"


def test_a_keyed_issue_retried_at_once_issues_one_coupon(stack):
    coupons = stack.services.coupons
    template = stack.template(per_member_limit=10)
    member_id = stack.member(13)
    results = together([lambda: coupons.issue(member_id, template["template_id"], "campaign:c1", "c1",
                                              key="campaign:c1:run1:" + member_id)] * 10)
    assert Counter(status for status, _ in results) == {200: 10}, results
    assert len({r["code"] for _, r in results}) == 1
    assert coupons.template_report(template["template_id"])["issued"] == 1
    assert coupons.campaign_report("c1") == {"issued": 1, "redeemed": 0, "revenue": "0"}
