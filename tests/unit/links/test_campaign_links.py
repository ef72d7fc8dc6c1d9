"""Campaign links without AWS: derived codes, idempotent creation, utm parameters, no staff credit, counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice
from urllib.parse import parse_qs, urlsplit

import pytest

from omo2c.attribution.lookups import CreditLookups
from omo2c.binding.model import code_in
from omo2c.core.errors import Conflict, InvalidEvent, NotFound
from omo2c.identity.verification import looks_like_code
from omo2c.links.model import LINK_CODE_LENGTH, ShareLink, campaign_link_codes, is_link_code, with_campaign
from omo2c.links.service import CODE_ATTEMPTS, ShareLinks

NOW = datetime(2026, 11, 20, 9, 0, 30, 123456, tzinfo=UTC)
URL = "https://shop.example.com/p/tea-01?color=red#reviews"


class Links:
    """A store that refuses a taken code, like the conditional put does, and records what is read."""

    def __init__(self) -> None:
        self.links: dict[str, ShareLink] = {}
        self.adds, self.reads, self.counted = 0, [], []

    def add(self, link):
        self.adds += 1
        if link.code in self.links:
            raise Conflict("taken")
        self.links[link.code] = link

    def get(self, code, consistent=False):
        self.reads.append((code, consistent))
        return self.links.get(code)

    def by_staff(self, staff_id, limit=50):
        return [x for x in self.links.values() if x.staff_id == staff_id][:limit]

    def record_click(self, link, at, visitor, bot):
        return "bot" if bot else "click"

    def counts(self, codes):
        self.counted.append(list(codes))
        return {c: {"clicks": 3, "bot_clicks": 2, "repeat_clicks": 1} for c in codes if c in self.links}


def service(store, now=NOW):
    clock = iter(now + timedelta(minutes=i) for i in range(100))
    return ShareLinks(store, lambda: next(clock))


def test_the_code_is_derived_from_campaign_run_channel_and_url_and_is_a_link_code():
    first = next(campaign_link_codes("c-1", "r-1", "line", URL))
    assert first == next(campaign_link_codes("c-1", "r-1", "line", URL))
    assert len(first) == LINK_CODE_LENGTH and is_link_code(first)
    assert code_in(f"#{first}") is None and not looks_like_code(first)
    others = {next(campaign_link_codes(*values)) for values in (
        ("c-2", "r-1", "line", URL), ("c-1", "r-2", "line", URL), ("c-1", "r-1", "sms", URL),
        ("c-1", "r-1", "line", URL + "x"), ("c-1", "r-1l", "ine", URL))}
    assert len(others) == 5 and first not in others
    sequence = list(islice(campaign_link_codes("c-1", "r-1", "line", URL), 200))
    assert len(set(sequence)) == 200 and all(is_link_code(c) for c in sequence)


def test_a_campaign_link_is_created_once_and_asked_for_again_is_the_same_link():
    store = Links()
    links = service(store)
    link = links.campaign_link("c-1", "r-1", "line", URL)
    assert link.code == next(campaign_link_codes("c-1", "r-1", "line", URL))
    assert (link.staff_id, link.campaign_id, link.run_id, link.channel, link.url) == (None, "c-1", "r-1", "line", URL)
    assert link.created_at == NOW.replace(microsecond=0) and link.is_campaign
    assert store.reads == [(link.code, False)] and store.adds == 1
    again = links.campaign_link("c-1", "r-1", "line", f"  {URL} ")
    assert again == link and store.links == {link.code: link}
    assert store.reads == [(link.code, False)] * 2 and store.adds == 1  # asked again: one read, no write
    assert links.campaign_link("c-1", "r-2", "line", URL).code != link.code
    assert links.list("S001") == []


def test_a_link_stored_between_the_read_and_the_put_is_read_back_consistently():
    store = Links()
    racing = ShareLink(next(campaign_link_codes("c-1", "r-1", "line", URL)), None, URL, NOW, 0, 0, 0,
                       campaign_id="c-1", run_id="r-1", channel="line")
    first_read = store.get

    def get(code, consistent=False):
        found = first_read(code, consistent)
        store.links.setdefault(code, racing)  # another sender of the run stores it right after this read
        return found

    store.get = get
    assert service(store).campaign_link("c-1", "r-1", "line", URL) is racing
    assert store.reads == [(racing.code, False), (racing.code, True)] and store.adds == 1


def test_another_link_under_the_derived_code_moves_the_campaign_link_to_the_next_code():
    store = Links()
    first, second = islice(campaign_link_codes("c-1", "r-1", "line", URL), 2)
    store.links[first] = ShareLink(first, "S001", URL, NOW)
    link = service(store).campaign_link("c-1", "r-1", "line", URL)
    assert link.code == second and store.links[first].staff_id == "S001"
    assert service(store).campaign_link("c-1", "r-1", "line", URL) == link

    full = Links()
    for code in islice(campaign_link_codes("c-1", "r-1", "line", URL), CODE_ATTEMPTS):
        full.links[code] = ShareLink(code, None, URL, NOW, campaign_id="c-9", run_id="r-1", channel="line")
    with pytest.raises(Conflict):
        service(full).campaign_link("c-1", "r-1", "line", URL)


@pytest.mark.parametrize(("args", "field"), [
    (("c-1", "r-1", "line", "javascript:alert(1)"), "url"), (("c-1", "r-1", "line", "/p"), "url"),
    (("", "r-1", "line", URL), "campaign_id"), (("c-1", " ", "line", URL), "run_id"),
    (("c-1", "r-1", "", URL), "channel"),
])
def test_a_bad_url_or_a_missing_name_is_refused(args, field):
    store = Links()
    with pytest.raises(InvalidEvent) as raised:
        service(store).campaign_link(*args)
    assert raised.value.details[0]["field"] == field and store.links == {}


def test_opening_a_campaign_link_appends_the_campaigns_utm_parameters_and_no_referral():
    links = service(Links())
    link = links.campaign_link("秋季-c1", "r-1", "line", URL)
    location = urlsplit(links.open(link.code, "Mozilla/5.0", "203.0.113.7"))
    assert (location.netloc, location.path, location.fragment) == ("shop.example.com", "/p/tea-01", "reviews")
    assert parse_qs(location.query) == {"color": ["red"], "utm_source": ["omo2c"], "utm_medium": ["line"],
                                        "utm_campaign": ["秋季-c1"]}
    assert "ref=" not in location.query
    with pytest.raises(NotFound):
        links.open("zzzzzzzz", "Mozilla/5.0", "203.0.113.7")


def test_utm_parameters_keep_the_urls_own_and_never_carry_a_referral():
    assert with_campaign("https://shop.example.com/p?q=a+b%20c&flag#top", "c 1&x", "sms") == \
        "https://shop.example.com/p?q=a+b%20c&flag&utm_source=omo2c&utm_medium=sms&utm_campaign=c%201%26x#top"
    assert with_campaign("https://shop.example.com", "c1", "line") == \
        "https://shop.example.com?utm_source=omo2c&utm_medium=line&utm_campaign=c1"
    own = "https://shop.example.com/p?utm_source=news&a=1#x"
    assert with_campaign(own, "c1", "line") == own
    assert with_campaign("https://shop.example.com/p?UTM_Medium=x", "c1", "line") == \
        "https://shop.example.com/p?UTM_Medium=x"
    assert with_campaign("https://shop.example.com/p?ref=abcdefgh.1.2&a=1&re%66=x", "c1", "line") == \
        "https://shop.example.com/p?a=1&utm_source=omo2c&utm_medium=line&utm_campaign=c1"
    assert with_campaign("https://shop.example.com/p?ref=x&utm_source=y", "c1", "line") == \
        "https://shop.example.com/p?utm_source=y"


def test_a_campaign_link_credits_no_staff_member():
    store = Links()
    links = service(store)
    link = links.campaign_link("c-1", "r-1", "line", URL)
    staff_link = links.create("S001", URL)
    assert links.code(link.code) is None
    assert links.code(staff_link.code).staff_id == "S001"

    class Directory:
        def staff(self, staff_id):
            return None

        def code(self, code):
            return None

    assert CreditLookups(Directory(), members=None, links=links).code(link.code) is None


def test_campaign_counts_answer_every_code_asked_and_read_only_link_codes():
    store = Links()
    links = service(store)
    link = links.campaign_link("c-1", "r-1", "line", URL)
    unknown = next(campaign_link_codes("c-1", "r-1", "sms", URL))
    counts = links.campaign_counts([link.code, unknown, "../junk", link.code])
    assert counts == {link.code: {"clicks": 3, "bot_clicks": 2, "repeat_clicks": 1},
                      unknown: {"clicks": 0, "bot_clicks": 0, "repeat_clicks": 0},
                      "../junk": {"clicks": 0, "bot_clicks": 0, "repeat_clicks": 0}}
    assert store.counted == [[link.code, unknown]]
    assert links.campaign_counts([]) == {}
