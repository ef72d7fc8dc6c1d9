"""Share links without AWS: codes, target URLs, the referral a click carries, bots and visitors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from omo2c.attribution.lookups import CreditLookups
from omo2c.attribution.rules import parse_referral
from omo2c.binding.model import code_in
from omo2c.core.errors import Conflict, InvalidEvent, NotFound
from omo2c.identity.verification import looks_like_code
from omo2c.links.model import (
    LINK_CODE_LENGTH,
    MAX_URL_LENGTH,
    ShareLink,
    is_bot,
    is_link_code,
    new_link_code,
    target_url,
    visitor_key,
    with_referral,
)
from omo2c.links.service import ShareLinks
from omo2c.staff.model import CODE_LENGTH, StaffCode

SHARED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
CLICKED = datetime(2026, 11, 21, 12, 30, tzinfo=UTC)
REF = f"abcdefgh.{int(SHARED.timestamp())}.{int(CLICKED.timestamp())}"


def test_link_codes_never_take_the_shape_of_a_staff_binding_or_one_time_code():
    codes = {new_link_code() for _ in range(500)}
    assert len(codes) == 500
    for code in codes:
        assert len(code) == LINK_CODE_LENGTH != CODE_LENGTH and is_link_code(code)
        assert code_in(f"#{code}") is None and code_in(code) is None
        assert not looks_like_code(code) and not code.isdigit()
    assert not is_link_code("23456789")  # digits only would read as a phone number in LINE
    assert not is_link_code("abcdefghjk") and not is_link_code("ABCDEFGH") and not is_link_code("abcdefg1")
    assert not is_link_code("abcdefgh\n") and not is_link_code("../abcde")


@pytest.mark.parametrize("url", [
    "https://shop.example.com/p/tea-01", "http://shop.example.com", "https://shop.example.com:8443/p?x=1#top",
    "https://商店.example/茶葉?色=紅",
])
def test_absolute_http_urls_are_targets(url):
    assert target_url(url) == url


@pytest.mark.parametrize(("url", "problem"), [
    ("javascript:alert(1)", "http or https"), ("data:text/html,<script>x</script>", "http or https"),
    ("/p/tea-01", "http or https"), ("//evil.example/p", "http or https"), ("ftp://shop.example.com/", "http"),
    ("https:///p", "host"), ("https://", "host"), ("https://shop.example.com:port/", "not a URL"),
    ("https://shop.example.com/p?" + "a" * MAX_URL_LENGTH, "longer"),
    ("https://shop.example.com/a b", "whitespace"), ("https://shop.example.com/\x00", "control"),
    ("https://shop.example.com/\r\nSet-Cookie: x=1", "control"), ("https://shop.example.com/\u202egpj", "control"),
    ("https://shop.example.com\\@evil.example/", "backslashes"), ("https://shop.example.com@evil.example/", "user"),
    ("", "required"), ("   ", "required"),
])
def test_anything_else_is_422_naming_the_url(url, problem):
    with pytest.raises(InvalidEvent) as raised:
        target_url(url)
    assert raised.value.status == 422
    assert raised.value.details[0]["field"] == "url" and problem in raised.value.details[0]["problem"]


def test_the_referral_keeps_the_urls_own_query_and_fragment_byte_for_byte():
    url = with_referral("https://shop.example.com/p?utm_source=line&q=a+b%20c&flag#reviews", "abcdefgh",
                        SHARED, CLICKED)
    assert url == f"https://shop.example.com/p?utm_source=line&q=a+b%20c&flag&ref={REF}#reviews"
    assert with_referral("https://shop.example.com", "abcdefgh", SHARED, CLICKED) == \
        f"https://shop.example.com?ref={REF}"


def test_an_existing_ref_is_replaced_not_doubled():
    url = with_referral("https://shop.example.com/p?ref=someone&a=1&re%66=x.1.2&refx=keep", "abcdefgh",
                        SHARED, CLICKED)
    assert url == f"https://shop.example.com/p?a=1&refx=keep&ref={REF}"


def test_the_referral_parses_back_to_the_code_share_and_click():
    assert parse_referral(REF) == ("abcdefgh", SHARED, CLICKED)


@pytest.mark.parametrize("agent", [
    "facebookexternalhit/1.1;line-poker/1.0",  # LINE's link preview
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "Twitterbot/1.0",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "Mozilla/5.0 (compatible; Discordbot/2.0)",
    "WhatsApp/2.23.20.0 A", "TelegramBot (like TwitterBot)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "SomeCrawler/1.0",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0)", "my-spider", "SkypeUriPreview Preview/0.5", "curl/8.4.0",
    "", "   ", None,
])
def test_previews_crawlers_scripts_and_empty_agents_are_bots(agent):
    assert is_bot(agent)


@pytest.mark.parametrize("agent", [
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 Safari Line/13.18.0",  # LINE's in-app browser: a person
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari",
    "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 Chrome/99.0 Mobile Safari/537.36",
])
def test_people_are_not_bots(agent):
    assert not is_bot(agent)


def test_the_visitor_key_is_a_digest_that_never_holds_the_address():
    key = visitor_key("abcdefgh", "203.0.113.7", "Mozilla/5.0")
    assert len(key) == 64 and set(key) <= set("0123456789abcdef") and "203.0.113.7" not in key
    assert key == visitor_key("abcdefgh", "203.0.113.7", "Mozilla/5.0")
    assert key != visitor_key("abcdefgh", "203.0.113.8", "Mozilla/5.0")
    assert key != visitor_key("bcdefghj", "203.0.113.7", "Mozilla/5.0")
    assert key != visitor_key("abcdefgh", "203.0.113.7", "Mozilla/5.1")
    assert visitor_key("abcdefgh", "203.0.113.7\nx", "y") != visitor_key("abcdefgh", "203.0.113.7", "x\ny")


class MemoryLinks:
    def __init__(self, taken: int = 0) -> None:
        self.links: dict[str, ShareLink] = {}
        self.taken, self.reads, self.clicks = taken, 0, []

    def add(self, link):
        if self.taken:
            self.taken -= 1
            raise Conflict("taken")
        self.links[link.code] = link

    def get(self, code):
        self.reads += 1
        return self.links.get(code)

    def by_staff(self, staff_id, limit=50):
        return sorted((x for x in self.links.values() if x.staff_id == staff_id), key=lambda x: x.created_at,
                      reverse=True)[:limit]

    def record_click(self, link, at, visitor, bot):
        self.clicks.append((link.code, at, visitor, bot))
        return "bot" if bot else "click"


def links(store, now=SHARED):
    clock = iter(now + timedelta(minutes=i) for i in range(100))
    return ShareLinks(store, lambda: next(clock))


def test_create_validates_and_draws_again_when_a_code_is_taken():
    store = MemoryLinks(taken=2)
    link = links(store).create("S001", "https://shop.example.com/p")
    assert store.links == {link.code: link} and link.staff_id == "S001"
    with pytest.raises(InvalidEvent):
        links(store).create("S001", "javascript:alert(1)")
    with pytest.raises(Conflict):
        links(MemoryLinks(taken=99)).create("S001", "https://shop.example.com/p")


def test_open_redirects_with_this_clicks_referral_and_junk_codes_are_never_read():
    store = MemoryLinks()
    service = links(store)
    link = service.create("S001", "https://shop.example.com/p?a=1")
    location = service.open(link.code, "Mozilla/5.0", "203.0.113.7")
    code, shared_at, clicked_at = parse_referral(location.split("ref=")[1])
    assert (code, shared_at) == (link.code, link.created_at)
    assert clicked_at == store.clicks[0][1].replace(microsecond=0) and store.clicks[0][3] is False
    reads = store.reads
    for junk in ("nope", "ABCDEFGH", "abcdefghjk", "../../etc", "", "a" * 5000):
        with pytest.raises(NotFound):
            service.open(junk, "Mozilla/5.0", "203.0.113.7")
        assert service.code(junk) is None
    assert store.reads == reads
    with pytest.raises(NotFound):
        service.open("bcdefghj", "Mozilla/5.0", "203.0.113.7")
    assert service.short_url("https://api.example.com/", link.code) == f"https://api.example.com/r/{link.code}"


def test_a_link_credits_its_staff_member_when_the_code_is_no_staff_code():
    store = MemoryLinks()
    service = links(store)
    link = service.create("S001", "https://shop.example.com/p")
    staff_code = StaffCode("abcdefghjk", "S002", "active", SHARED)

    class Directory:
        def staff(self, staff_id):
            return None

        def code(self, code):
            return staff_code if code == staff_code.code else None

    lookups = CreditLookups(Directory(), members=None, links=service)
    assert lookups.code(link.code) == StaffCode(link.code, "S001", "active", link.created_at)
    assert lookups.code("abcdefghjk") is staff_code
    assert lookups.code("zzzzzzzz") is None
    assert CreditLookups(Directory(), members=None).code(link.code) is None
