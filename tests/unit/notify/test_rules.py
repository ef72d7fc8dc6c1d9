"""Campaign rules without AWS: segments, rendering, consent and channel, quiet hours, validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from omo2c.binding.model import Binding
from omo2c.campaigns import rules
from omo2c.campaigns.model import CampaignIn, Segment
from omo2c.campaigns.rules import choose_channel, day_ranges, matches, quiet_until, render
from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.members.model import NO_ORDER_DAY, LineStatus, Member, Rfm

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 11:00 in Taipei
WINDOWS = [("21:00", "09:00"), ("12:30", "13:30")]


def member(days_ago: int | None = 70, orders: int = 3, **changes) -> Member:
    last = int((NOW - timedelta(days=days_ago)).timestamp() * 1000) if days_ago is not None else None
    base = Member(member_id="m1", created_at=0,
                  identifiers=[Identifier(IdentifierKind.PHONE, "+886955000111"),
                               Identifier(IdentifierKind.LINE_USER, "U" + "c" * 32)],
                  rfm=Rfm(last - 200 * 86_400_000 if last else None, last, orders if last else 0,
                          Decimal(3000) if last else Decimal(0)),
                  line=LineStatus("U" + "c" * 32, True),
                  consent={"sms": True}, binding=Binding("S001", "ST01", NOW - timedelta(days=20)))
    for key, value in changes.items():
        setattr(base, key, value)
    return base


def test_no_purchase_for_60_days_is_one_index_range_and_matches_the_lapsed_member():
    segment = Segment(days_since_last_order={"min": 60})
    assert day_ranges(segment, NOW) == [("0001-01-01", "2026-09-25")]
    assert matches(member(70), segment, NOW) and not matches(member(30), segment, NOW)


def test_prospects_are_their_own_range():
    assert (NO_ORDER_DAY, NO_ORDER_DAY) in day_ranges(Segment(napl=["prospect"]), NOW)
    assert (NO_ORDER_DAY, NO_ORDER_DAY) not in day_ranges(Segment(days_since_last_order={"min": 1}), NOW)


def test_other_filters():
    assert not matches(member(), Segment(bound=False), NOW)
    expired = member(binding=Binding("S001", "ST01", NOW - timedelta(days=400)))
    assert matches(expired, Segment(bound=False), NOW), "an expired binding no longer counts as bound"
    assert not matches(expired, Segment(store_ids=["ST01"]), NOW)
    assert matches(member(), Segment(store_ids=["ST01"], order_count={"min": 2}, net_spent={"max": 5000}), NOW)
    assert not matches(member(), Segment(tags=["vip"]), NOW)


def test_render_fills_names_and_blanks_what_is_unknown():
    text = render("{name} 您好，{staff_name}（{store_name}）為您準備了 {coupon}", name="小美", staff_name="王小明",
                  store_name=None, coupon="TEA50")
    assert text == "小美 您好，王小明（）為您準備了 TEA50"


def fill(template: str, **values: str | None) -> str:
    return render(template, **({"name": None, "staff_name": None, "store_name": None, "coupon": None} | values))


def test_render_substitutes_and_evaluates_nothing():
    assert fill("{{coupon}} {coupon} }}{{", coupon="{name}") == "{coupon} {name} }{", "values are never re-read"
    # A template that skipped validation (an old stored one) is left as text, never formatted.
    assert fill("{staff_name:x>20000000}{name.__class__}", staff_name="王", name="x") == \
        "{staff_name:x>20000000}{name.__class__}"


@pytest.mark.parametrize(("template", "problem"), [
    ("{name:{name.__class__}}", "format spec"), ("{staff_name:x>20000000}", "format spec"),
    ("{name!r}", "conversion"), ("{name.__class__}", "attribute or index"), ("{name[0]}", "attribute or index"),
    ("{0}", "unknown placeholder"), ("{nickname}", "unknown placeholder {nickname}"), ("{}", "names nothing"),
    ("{ name }", "unknown placeholder"), ("hi {name", "never closed"), ("hi name}", "closes nothing"),
])
def test_only_the_documented_placeholders_are_accepted_and_the_problem_is_named(template, problem):
    good = {"name": "回流", "message": "{name}", "channels": ["line"], "schedule": "rate(1 day)"}
    with pytest.raises(ValidationError) as caught:
        CampaignIn.model_validate(good | {"message": template})
    (error,) = caught.value.errors()
    assert error["loc"] == ("message",) and problem in error["msg"]
    assert CampaignIn.model_validate(good | {"message": "{{literal}} {name}{staff_name}{store_name}{coupon}"})


def test_length_limits_of_line_and_sms():
    assert rules.length_problem("好" * rules.LINE_TEXT_LIMIT, "line", "Brand") is None
    assert "5,000" in rules.length_problem("好" * (rules.LINE_TEXT_LIMIT + 1), "line", "Brand")
    assert rules.length_problem("😀" * (rules.LINE_TEXT_LIMIT // 2 + 1), "line", "Brand"), "counted in UTF-16 units"
    room = rules.SMS_SEGMENT_LIMIT * 67 - len("【Brand】")  # the prefix makes every campaign SMS UCS-2
    assert rules.length_problem("好" * room, "sms", "Brand") is None
    assert "10 SMS segments" in rules.length_problem("好" * (room + 1), "sms", "Brand")
    assert rules.length_problem("a" * room, "sms", "LongerBrand"), "the brand prefix counts"


def test_consent_first_then_line_then_sms():
    assert choose_channel(member(), ["line", "sms"], opted_out=False).channel == "line"
    unfollowed = member(line=LineStatus("U" + "c" * 32, False))
    assert choose_channel(unfollowed, ["line", "sms"], opted_out=False).channel == "sms"
    assert choose_channel(unfollowed, ["line"], opted_out=False).reason == "line_unreachable"
    no_sms = member(line=None, consent={"sms": False})
    assert choose_channel(no_sms, ["line", "sms"], opted_out=False).reason == "no_sms_consent"
    assert choose_channel(member(), ["line", "sms"], opted_out=True).reason == "opted_out"


@pytest.mark.parametrize(("taipei", "allowed_at"), [
    ("11:00", None), ("12:45", "13:30"), ("22:15", "09:00"), ("02:00", "09:00"), ("08:59", "09:00"), ("09:00", None),
])
def test_quiet_hours_defer_to_the_end_of_the_window(taipei, allowed_at):
    hour, minute = map(int, taipei.split(":"))
    moment = datetime(2026, 11, 24, hour, minute, tzinfo=UTC) - timedelta(hours=8)
    until = quiet_until(moment, WINDOWS, "Asia/Taipei")
    if allowed_at is None:
        assert until is None
    else:
        local = until.astimezone(ZoneInfo("Asia/Taipei"))
        assert local.strftime("%H:%M") == allowed_at and until > moment


def test_campaign_validation_names_the_problem():
    good = {"name": "回流", "segment": {"days_since_last_order": {"min": 60}}, "message": "{name} 好久不見",
            "channels": ["line", "sms"], "schedule": "cron(0 11 * * ? *)"}
    assert CampaignIn.model_validate(good).frequency_cap.max == 2
    for bad in ({"message": "{nickname}"}, {"channels": []}, {"channels": ["fax"]}, {"schedule": "every day"},
                {"time_zone": "Mars/Olympus"}, {"quiet_hours": [["25:00", "09:00"]]},
                {"segment": {"days_since_last_order": {"min": 9, "max": 1}}}):
        with pytest.raises(ValidationError):
            CampaignIn.model_validate(good | bad)


def test_email_goes_only_with_consent_to_an_address_that_has_not_bounced():
    def person(consent, bounced=None, email="mei@example.com"):
        ids = [Identifier(IdentifierKind.EMAIL, email)] if email else []
        return Member("m1", 0, identifiers=ids, consent=consent, email_bounced=bounced)

    assert choose_channel(person({"email": True}), ["email"], opted_out=False).channel == "email"
    assert choose_channel(person({"email": False}), ["email"], opted_out=False).reason == "unsubscribed"
    assert choose_channel(person({}), ["email"], opted_out=False).reason == "no_email_consent"
    assert choose_channel(person({"email": True}, email=None), ["email"], opted_out=False).reason == "no_email"
    bounced = person({"email": False}, bounced="mei@example.com")
    assert choose_channel(bounced, ["email", "line"], opted_out=False).reason == "line_unreachable"
    assert choose_channel(bounced, ["email"], opted_out=False).reason == "email_bounced"


def test_links_in_a_message_become_the_runs_counted_links_and_nothing_else_changes():
    template = "{name} 看看 https://shop.example/a?x=1。還有 https://shop.example/b)."
    assert rules.links_in(template) == ["https://shop.example/a?x=1", "https://shop.example/b"]
    short = {"https://shop.example/a?x=1": "https://go.example/r/aaaa", "https://shop.example/b": "https://go.example/r/b"}
    assert rules.with_links(template, short) == "{name} 看看 https://go.example/r/aaaa。還有 https://go.example/r/b)."
    assert rules.with_links(template, {}) == template


def test_a_campaign_starts_by_a_schedule_or_a_trigger_never_both():
    base = {"name": "n", "message": "m", "channels": ["email"]}
    with pytest.raises(ValidationError):
        CampaignIn(**base)
    with pytest.raises(ValidationError):
        CampaignIn(**base, schedule="rate(1 day)", trigger={"event": "member.created"})
    with pytest.raises(ValidationError):
        CampaignIn(**base, trigger={"event": "birthday", "delay_days": 3})
    with pytest.raises(ValidationError):
        CampaignIn(**base, trigger={"event": "order.recorded", "tiers": ["gold"]})
    assert CampaignIn(**base, trigger={"event": "order.recorded", "delay_days": 7}).trigger.send_at == "10:00"
