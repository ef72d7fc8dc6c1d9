"""Coupons reach members by every channel: the welcome message, a tier upgrade, a campaign's `{coupon}`, a staff
member in the console. Against moto, with fake LINE and SMS, through the handlers the template names."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

from omo2c.coupons.model import SAMPLE_CODE
from omo2c.events import MemberCreated, MemberTierChanged, OrderRecorded

CODE = re.compile(r"\b[2-9A-HJKMNP-Z]{10}\b")
TIERS = [{"id": "regular", "name": "一般會員", "min_spend": "0", "points_rate": "1", "benefits": []},
         {"id": "silver", "name": "銀卡", "min_spend": "10000", "points_rate": "1.5", "benefits": []},
         {"id": "gold", "name": "金卡", "min_spend": "30000", "points_rate": "2", "benefits": []}]


def codes_in(text: str) -> list[str]:
    return CODE.findall(text)


def tier_up(member_id: str, to_tier: str, direction: str = "up") -> MemberTierChanged:
    return MemberTierChanged(member_id=member_id, from_tier="regular", to_tier=to_tier, direction=direction,
                             reason="order pos#ST01-1 crossed 30000", spend_in_window=Decimal(30500),
                             order_ref="pos#ST01-1", at=datetime.now(tz=UTC))


# ---------------------------------------------------------------------- the welcome message
def test_the_welcome_sms_carries_a_freshly_issued_code_once(stack):
    template = stack.template(name="新會員禮", min_spend=0)
    stack.configure(welcome_coupon_template=template["template_id"])
    member_id = stack.member(30, sms=True)
    for _ in range(2):  # redelivered
        stack.event(MemberCreated(member_id=member_id, event_id="c-30", channel="pos", consent={"sms": True},
                                  occurred_at=datetime.now(tz=UTC)))
    stack.drain()
    [(phone, text)] = stack.sms.sent
    [code] = codes_in(text)
    assert phone == "+886955700030" and text.startswith("【Brand】歡迎加入Brand會員！") and "STOP" in text
    [coupon] = stack.wallet(member_id)["coupons"]
    assert (coupon["code"], coupon["issued_by"], coupon["state"]) == (code, "welcome", "available")
    assert stack.redeem(code, "pos#ST01-2")[0] == 200


def test_without_a_welcome_template_the_welcome_has_no_coupon_line(stack):
    member_id = stack.member(31, sms=True)
    stack.event(MemberCreated(member_id=member_id, event_id="c-31", channel="pos", consent={"sms": True},
                              occurred_at=datetime.now(tz=UTC)))
    stack.drain()
    [(_, text)] = stack.sms.sent
    assert text == "【Brand】歡迎加入Brand會員！回覆 STOP 取消訂閱。" and not codes_in(text)
    assert stack.wallet(member_id)["coupons"] == []


# ---------------------------------------------------------------------- a tier upgrade
def test_a_tier_upgrade_sends_the_tiers_coupon_by_line_else_sms_once_and_a_downgrade_nothing(stack):
    template = stack.template(name="金卡禮", min_spend=0)
    tiers = [t | {"welcome_coupon_template": template["template_id"]} if t["id"] == "gold" else t for t in TIERS]
    stack.configure(tiers=tiers)
    on_line = stack.member(32, line=True, sms=False)
    by_sms = stack.member(33, line=False, sms=True)
    unreachable = stack.member(34, line=False, sms=False)
    for member_id in (on_line, by_sms, unreachable, on_line):  # the last one redelivered
        stack.event(tier_up(member_id, "gold"))
    stack.event(tier_up(by_sms, "regular", "down"))
    stack.drain()

    [(user, [line_text], _)] = stack.line.pushes
    assert user == "U" + f"{32:032x}" and "恭喜您成為Brand金卡！" in line_text and "STOP" not in line_text
    [(phone, sms_text)] = stack.sms.sent
    assert phone == "+886955700033" and "金卡" in sms_text and "STOP" in sms_text
    for member_id, text in ((on_line, line_text), (by_sms, sms_text)):
        [coupon] = stack.wallet(member_id)["coupons"]
        assert codes_in(text) == [coupon["code"]] and coupon["issued_by"] == "tier:gold"
    assert stack.wallet(unreachable)["coupons"] == [], "nobody to tell: no coupon issued"
    assert stack.services.coupons.template_report(template["template_id"])["issued"] == 2


def test_a_tier_without_a_coupon_template_still_welcomes(stack):
    member_id = stack.member(35, line=True)
    stack.event(tier_up(member_id, "silver"))
    stack.drain()
    [(_, [text], _)] = stack.line.pushes
    assert text == "恭喜您成為Brand銀卡！感謝您的支持。" and stack.wallet(member_id)["coupons"] == []


# ---------------------------------------------------------------------- a campaign's {coupon}
CAMPAIGN = {"name": "回購禮", "segment": {"days_since_last_order": {"max": 30}},
            "message": "{name} 您好，{staff_name}送您優惠碼 {coupon}！", "channels": ["line", "sms"],
            "schedule": "cron(0 11 * * ? *)", "quiet_hours": [], "conversion_days": 7}


def campaigns(stack, method, path, route, body=None, params=None):
    return stack.call(method, path, route, body, params, function="CampaignsApiFunction")


def test_a_campaign_gives_each_member_their_own_code_once_per_run_and_reports_them(stack, aws):
    template = stack.template(name="回購券", min_spend=500, per_member_limit=1)
    tid = template["template_id"]
    assert campaigns(stack, "POST", "/campaigns", "/campaigns", CAMPAIGN | {"coupon_template_id": "nope"})[0] == 422
    status, error = campaigns(stack, "POST", "/campaigns", "/campaigns",
                              CAMPAIGN | {"coupon_template_id": tid, "message": "沒有優惠碼"})
    assert status == 422 and [d["field"] for d in error["details"]] == ["coupon_template_id"]
    status, campaign = campaigns(stack, "POST", "/campaigns", "/campaigns", CAMPAIGN | {"coupon_template_id": tid})
    assert status == 201 and campaign["coupon_template_id"] == tid
    cid = campaign["campaign_id"]
    members = [stack.member(40, line=True, staff="S001"), stack.member(41, line=True), stack.member(42, sms=True)]

    run = ("POST", f"/campaigns/{cid}/run", "/campaigns/{campaign_id}/run")
    _, preview = campaigns(stack, *run, {"dry_run": True}, {"campaign_id": cid})
    assert preview["members_per_channel"] == {"line": 2, "sms": 1}
    assert all(SAMPLE_CODE in s["text"] for s in preview["samples"]), "a preview issues nothing"
    assert stack.services.coupons.template_report(tid)["issued"] == 0

    assert campaigns(stack, *run, {}, {"campaign_id": cid})[0] == 202
    jobs = [m["Body"] for m in aws["sqs"].receive_message(QueueUrl=aws["send_url"], MaxNumberOfMessages=10)["Messages"]]
    for _ in range(2):  # the same jobs delivered twice: nothing is issued or sent twice
        stack.send(jobs)
    stack.drain()
    texts = {user: texts[0] for user, texts, _ in stack.line.pushes}
    assert len(stack.line.pushes) == 2 and stack.line.multicasts == [], "personal texts: one push each"
    assert texts["U" + f"{40:032x}"].startswith("客人40 您好，王小明送您優惠碼 ")
    [(_, sms_text)] = stack.sms.sent
    given = {}
    for member_id, text in zip(members, [texts["U" + f"{40:032x}"], texts["U" + f"{41:032x}"], sms_text],
                               strict=True):
        [coupon] = stack.wallet(member_id)["coupons"]
        assert codes_in(text) == [coupon["code"]] and coupon["issued_by"] == f"campaign:{cid}"
        given[member_id] = coupon["code"]
    assert len(set(given.values())) == 3 and stack.services.coupons.template_report(tid)["issued"] == 3

    now = datetime.now(tz=UTC)
    order = OrderRecorded(member_id=members[0], event_id="pos-c1", event_type="order.created", source="pos",
                          order_id="ST01-500", channel="pos", store_id="ST01", total=1500, net=1500, net_kept=1500,
                          status="open", placed_at=int(now.timestamp() * 1000), version="00000001", occurred_at=now,
                          coupons=[given[members[0]].lower()])
    assert stack.services.coupons.record_order(order) == "1 redeemed"

    stack.clock.advance(hours=1)
    assert campaigns(stack, *run, {}, {"campaign_id": cid})[0] == 202
    stack.drain()
    assert len(stack.line.pushes) == 2 and len(stack.sms.sent) == 1, "the limit reached: no coupon, no message"
    status, report = campaigns(stack, "GET", f"/campaigns/{cid}/report", "/campaigns/{campaign_id}/report",
                               params={"campaign_id": cid})
    assert status == 200 and report["coupons"] == {"issued": 3, "redeemed": 1, "revenue": "1500"}
    assert [r["sent"] for r in report["runs"]] == [3, 0]
    assert report["runs"][1]["skipped"] == {"coupon_unavailable": 3}


def test_a_campaign_without_coupons_reports_none(stack):
    _, campaign = campaigns(stack, "POST", "/campaigns", "/campaigns", CAMPAIGN | {"message": "{name} 好久不見"})
    cid = campaign["campaign_id"]
    _, report = campaigns(stack, "GET", f"/campaigns/{cid}/report", "/campaigns/{campaign_id}/report",
                          params={"campaign_id": cid})
    assert report["coupons"] == {"issued": 0, "redeemed": 0, "revenue": "0"}


# ---------------------------------------------------------------------- a staff member in the console
S001 = {"role": "staff", "staff_id": "S001", "store_id": "ST01", "key_id": ""}
S002 = {"role": "staff", "staff_id": "S002", "store_id": "ST02", "key_id": ""}
M01 = {"role": "manager", "staff_id": "M01", "store_id": "ST01", "key_id": ""}


def give(stack, caller, member_id, template_id):
    return stack.call("POST", f"/me/customers/{member_id}/coupons", "/me/customers/{member_id}/coupons",
                      {"template_id": template_id}, {"member_id": member_id}, caller=caller,
                      function="StaffConsoleApiFunction")


def test_staff_give_their_own_customers_coupons_within_their_monthly_cap(stack):
    from omo2c import wiring

    wiring.production().staff_directory.put_staff("M01", "陳店長", "ST01", "active", role="manager")
    stack.configure(staff_coupon_monthly_cap=2)
    tid = stack.template(per_member_limit=5)["template_id"]
    mine = stack.member(50, staff="S001")
    theirs = stack.member(51, staff="S002", store="ST02")

    status, coupon = give(stack, S001, mine, tid)
    assert status == 201 and coupon["issued_by"] == "staff:S001" and coupon["member_id"] == mine
    assert give(stack, S001, theirs, tid)[0] == 403, "another staff member's customer"
    assert give(stack, S002, mine, tid)[0] == 403
    assert give(stack, {"role": "admin", "staff_id": "", "store_id": "", "key_id": ""}, mine, tid)[0] == 403
    assert give(stack, S001, "no-such-member", tid)[0] == 403, "nobody answers like someone else's"
    assert give(stack, S001, mine, "nope")[0] == 404
    assert give(stack, S001, mine, tid)[0] == 201
    status, error = give(stack, S001, mine, tid)
    assert status == 409 and "this month" in error["message"], "the cap of 2 reached"
    status, by_manager = give(stack, M01, mine, tid)
    assert status == 201 and by_manager["issued_by"] == "staff:M01", "a manager: any customer of the store"
    assert give(stack, M01, theirs, tid)[0] == 403
    assert [c["issued_by"] for c in stack.wallet(mine)["coupons"]].count("staff:S001") == 2



def test_entering_the_base_tier_sends_no_tier_welcome(stack):
    """The first order puts every member in 一般會員: no upgrade to celebrate, and no send spent of the cap."""
    member_id = stack.member(36, line=True, sms=True)
    stack.event(MemberTierChanged(member_id=member_id, from_tier=None, to_tier="regular", direction="up",
                                  reason="first order", spend_in_window=Decimal(500), order_ref="pos#ST01-9",
                                  at=datetime.now(tz=UTC)))
    stack.drain()
    assert stack.line.pushes == [] and stack.sms.sent == []
