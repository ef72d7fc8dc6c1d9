"""Campaign links against moto: one link per message, clicks counted through the public redirect with no staff
counters and no referral, counts read in batches."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import islice
from urllib.parse import parse_qs, urlsplit

import pytest

from bench.counting import counting
from omo2c import wiring
from omo2c.attribution.lookups import CreditLookups
from omo2c.core.settings import Settings
from omo2c.links.model import campaign_link_codes
from omo2c.links.storage import ShareLinkItem, link_key
from tests.support.aws import http_event, load_handler

START = datetime.now(tz=UTC).replace(microsecond=0)
PERSON = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148 Safari Line/13.18.0"
PREVIEW = "facebookexternalhit/1.1;line-poker/1.0"
URL = "https://shop.example.com/p/tea-01?color=red#reviews"


@pytest.fixture
def services(aws):
    return wiring.Services(Settings.from_env(), clock=lambda: START)


@pytest.fixture
def open_link(aws, services, lambda_context):
    redirect = load_handler("ShareLinkFunction")

    def open_(code, agent=PERSON, ip="203.0.113.7"):
        event = http_event("GET", f"/r/{code}", route="/r/{code}", headers={"User-Agent": agent},
                           path_params={"code": code})
        event["requestContext"]["http"]["sourceIp"] = ip
        return redirect.lambda_handler(event, lambda_context, services=services)

    return open_


def items(aws, services, prefix):
    scanned = aws["dynamodb"].scan(TableName=services.settings.members_table)["Items"]
    return [item for item in scanned if item["pk"]["S"].startswith(prefix)]


def test_a_campaign_link_is_one_item_stored_once_with_no_staff(aws, services):
    link = services.share_links.campaign_link("c-1", "r-1", "line", URL)
    assert link.code == next(campaign_link_codes("c-1", "r-1", "line", URL))
    with counting() as calls:
        again = services.share_links.campaign_link("c-1", "r-1", "line", URL)
    assert again == link and calls.requests == {("dynamodb", "GetItem"): 1}  # asked again: one read, no write
    (item,) = items(aws, services, "LINK#")
    assert {k: next(iter(v.values())) for k, v in item.items()} == {
        "pk": f"LINK#{link.code}", "sk": "LINK", "code": link.code, "campaign_id": "c-1", "run_id": "r-1",
        "channel": "line", "url": URL, "created_at": str(int(START.timestamp())), "clicks": "0", "bot_clicks": "0",
        "repeat_clicks": "0"}
    assert items(aws, services, "STAFFLINKS#") == []
    assert services.share_links.get(link.code) == link
    assert services.share_links.campaign_link("c-1", "r-1", "sms", URL).code != link.code


def test_a_staff_link_under_the_derived_code_moves_the_campaign_link_on(aws, services):
    first, second = islice(campaign_link_codes("c-1", "r-1", "line", URL), 2)
    ShareLinkItem(*link_key(first), code=first, staff_id="S001", url=URL, created_at=1).save()
    assert services.share_links.campaign_link("c-1", "r-1", "line", URL).code == second
    assert services.share_links.campaign_link("c-1", "r-1", "line", URL).code == second
    assert services.share_links.get(first).staff_id == "S001"


def test_clicks_are_counted_on_the_link_without_staff_counters_and_carry_utm_not_ref(aws, services, open_link):
    link = services.share_links.campaign_link("c-1", "r-1", "line", URL)
    staff_link = services.share_links.create("S001", "https://shop.example.com/q")
    response = open_link(link.code)
    assert response["statusCode"] == 302
    location = urlsplit(response["headers"]["Location"])
    assert (location.netloc, location.path, location.fragment) == ("shop.example.com", "/p/tea-01", "reviews")
    assert parse_qs(location.query) == {"color": ["red"], "utm_source": ["omo2c"], "utm_medium": ["line"],
                                        "utm_campaign": ["c-1"]}
    for agent, ip in ((PERSON, "203.0.113.7"), (PREVIEW, "198.51.100.1"), (PERSON, "203.0.113.8")):
        assert open_link(link.code, agent, ip)["statusCode"] == 302
    assert items(aws, services, "STAFFKPI#") == []
    assert open_link(staff_link.code)["statusCode"] == 302  # a staff link still counts for its staff member
    (kpi,) = items(aws, services, "STAFFKPI#")
    assert kpi["pk"]["S"] == "STAFFKPI#S001" and kpi["clicks"]["N"] == "1"
    counts = services.share_links.campaign_counts([link.code, staff_link.code])
    assert counts == {link.code: {"clicks": 2, "bot_clicks": 1, "repeat_clicks": 1},
                      staff_link.code: {"clicks": 1, "bot_clicks": 0, "repeat_clicks": 0}}


def test_a_campaign_links_code_credits_no_staff_member(aws, services):
    link = services.share_links.campaign_link("c-1", "r-1", "line", URL)
    staff_link = services.share_links.create("S001", URL)
    lookups = CreditLookups(services.staff_directory, services.members, links=services.share_links)
    assert services.share_links.code(link.code) is None and lookups.code(link.code) is None
    assert lookups.code(staff_link.code).staff_id == "S001"
    assert [x.code for x in services.share_links.list("S001")] == [staff_link.code]


def test_counts_for_many_codes_are_one_batch_read_per_hundred(aws, services):
    links = [services.share_links.campaign_link("c-1", "r-1", "line", f"https://shop.example.com/p/{i}")
             for i in range(150)]
    codes = [link.code for link in links] + ["zzzzzzzz", "not a code"]
    with counting() as calls:
        counts = services.share_links.campaign_counts(codes)
    assert calls.requests == {("dynamodb", "BatchGetItem"): 2}
    assert set(counts) == set(codes)
    assert all(c == {"clicks": 0, "bot_clicks": 0, "repeat_clicks": 0} for c in counts.values())
