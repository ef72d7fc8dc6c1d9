"""Share links against moto: create, open through the public handler, count clicks, credit the order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from omo2c import wiring
from omo2c.attribution.rules import parse_referral
from omo2c.core.settings import Settings
from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.links.model import visitor_key
from omo2c.links.storage import LinkClickItem, ShareLinkStore
from omo2c.members.storage import MemberItem, member_key
from omo2c.sources.canonical import CanonicalEvent
from omo2c.staff.storage import StaffKpis, kpi_month
from tests.conftest import published
from tests.support.aws import http_event, load_handler, sqs_event
from tests.support.events import pos_order

START = datetime.now(tz=UTC).replace(microsecond=0)
PERSON = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari Line/13.18.0"
PREVIEW = "facebookexternalhit/1.1;line-poker/1.0"
COUNTERS = ("clicks", "bot_clicks", "repeat_clicks")


@pytest.fixture
def links(aws, lambda_context):
    now = [START]
    services = wiring.Services(Settings.from_env(), clock=lambda: now[0])
    services.staff_directory.put_store("ST01", "信義店", None)
    services.staff_directory.put_staff("S001", "王小明", "ST01", "active")
    redirect = load_handler("ShareLinkFunction")

    class Links:
        def __init__(self):
            self.now, self.services = now, services

        def open(self, code, agent=PERSON, ip="203.0.113.7"):
            headers = {"User-Agent": agent} if agent is not None else {}
            event = http_event("GET", f"/r/{code}", route="/r/{code}", headers=headers, path_params={"code": code})
            event["requestContext"]["http"]["sourceIp"] = ip
            return redirect.lambda_handler(event, lambda_context, services=services)

        def counters(self, code):
            link = services.share_links.get(code)
            kpis = StaffKpis(services.settings).month("S001", kpi_month(now[0]))
            return ({name: getattr(link, name) for name in COUNTERS}, {name: kpis[name] for name in COUNTERS})

    return Links()


def counts(clicks=0, bot_clicks=0, repeat_clicks=0):
    return {"clicks": clicks, "bot_clicks": bot_clicks, "repeat_clicks": repeat_clicks}


def test_a_click_redirects_with_the_staff_members_referral(links):
    link = links.services.share_links.create("S001", "https://shop.example.com/p/tea-01?color=red#reviews")
    response = links.open(link.code)
    assert response["statusCode"] == 302
    headers = response["headers"]
    assert headers["Cache-Control"] == "no-store" and headers["Referrer-Policy"] == "no-referrer"
    location = urlsplit(headers["Location"])
    assert (location.netloc, location.path, location.fragment) == ("shop.example.com", "/p/tea-01", "reviews")
    query = parse_qs(location.query)
    assert query["color"] == ["red"]
    code, shared_at, clicked_at = parse_referral(query["ref"][0])
    assert (code, shared_at, clicked_at) == (link.code, link.created_at, START)
    assert [x.code for x in links.services.share_links.list("S001")] == [link.code]


def test_clicks_repeats_and_bots_are_counted_apart_on_the_link_and_the_staff_month(links, aws):
    link = links.services.share_links.create("S001", "https://shop.example.com/p")
    other = links.services.share_links.create("S001", "https://shop.example.com/q")
    for agent, ip in ((PERSON, "203.0.113.7"), (PERSON, "203.0.113.7"), (PREVIEW, "198.51.100.1"),
                      (PREVIEW, "198.51.100.1"), ("", "198.51.100.2"), (None, "198.51.100.3"),
                      (PERSON, "203.0.113.8")):
        assert links.open(link.code, agent, ip)["statusCode"] == 302
    assert links.open(other.code)["statusCode"] == 302  # the same visitor on another link is a new click
    assert links.counters(link.code) == (counts(2, 4, 1), counts(3, 4, 1))
    assert links.counters(other.code)[0] == counts(1)

    links.now[0] = START + timedelta(hours=25)  # a day later the same visitor clicks anew
    assert links.open(link.code)["statusCode"] == 302
    assert links.counters(link.code)[0] == counts(3, 4, 1)

    markers = [item for item in aws["dynamodb"].scan(TableName=links.services.settings.members_table)["Items"]
               if item["pk"]["S"].startswith("LINKCLICK#")]
    assert len(markers) == 3 and "203.0.113" not in json.dumps(markers)
    marker = LinkClickItem.get(f"LINKCLICK#{link.code}#{visitor_key(link.code, '203.0.113.7', PERSON)}", "CLICK")
    assert marker.expires_at == int((START + timedelta(hours=49)).timestamp())


def test_a_retried_click_counts_once(links):
    link = links.services.share_links.create("S001", "https://shop.example.com/p")
    store = ShareLinkStore(links.services.settings)
    visitor = visitor_key(link.code, "203.0.113.7", PERSON)
    assert store.record_click(link, START, visitor, False) == "click"
    assert store.record_click(link, START, visitor, False) == "repeat"
    assert store.record_click(link, START, visitor, True) == "bot"
    assert links.counters(link.code) == (counts(1, 1, 1), counts(1, 1, 1))


@pytest.mark.parametrize("code", ["zzzzzzzz", "23456789", "ABCDEFGH", "abcdefghjk", "..%2F..%2Fetc", "<script>",
                                  "a" * 300])
def test_an_unknown_or_junk_code_is_a_404_page(links, code):
    response = links.open(code)
    assert response["statusCode"] == 404
    assert response["headers"]["Content-Type"] == "text/html; charset=utf-8"
    assert "找不到這個連結" in response["body"] and "<script>" not in response["body"]


def test_an_ec_order_carrying_the_links_referral_is_credited_to_the_staff_member(links, aws, lambda_context):
    """The referral rule comes before the binding: the customer bound to S777 buys through S001's link."""
    resolver = wiring.production().resolver
    resolver.record(CanonicalEvent.model_validate({**pos_order("l-1", phone="0955-606-707", order_id="L-1",
                                                               total=100), "source": "pos"}))
    member = wiring.production().members.find_by_identifier(Identifier(IdentifierKind.PHONE, "+886955606707"))
    MemberItem(*member_key(member.member_id)).update(actions=[MemberItem.binding.set(
        {"staff_id": "S777", "store_id": "ST07", "bound_at": (START - timedelta(days=3)).isoformat(),
         "last_interaction_at": (START - timedelta(days=1)).isoformat()})])
    link = links.services.share_links.create("S001", "https://shop.example.com/p/tea-01")
    ref = parse_qs(urlsplit(links.open(link.code)["headers"]["Location"]).query)["ref"][0]

    ec = pos_order("l-2", phone="0955606707", order_id="EC-L-1", total=2000,
                   occurred_at=(START + timedelta(hours=2)).isoformat())
    ec.update(channel="ec", staff_id=None, store_id=None, source="ec", referral_code=ref)
    published(aws)
    wiring.production().publish(resolver.record(CanonicalEvent.model_validate(ec)).events)
    envelopes = [e for e in published(aws) if e["detail-type"].startswith("order.")]
    consumer = load_handler("AttributeFunction")
    assert consumer.lambda_handler(sqs_event([json.dumps(e) for e in envelopes]), lambda_context) == {
        "batchItemFailures": []}

    trace = wiring.production().commission_service.explain("ec", "EC-L-1")
    assert (trace["rule"], trace["staff_id"], trace["store_id"]) == ("referral_code", "S001", "ST01")
    assert f"code '{link.code}' of S001 valid (click)" in trace["trace"][1]["reason"]
