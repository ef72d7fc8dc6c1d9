"""Birthdays without AWS: the days to celebrate, the canonical field, the profile value and merges."""

from __future__ import annotations

import itertools
import json
from datetime import date, timedelta

import pytest

from omo2c.core.errors import InvalidEvent
from omo2c.core.settings import Settings
from omo2c.identity.identifiers import BlockList
from omo2c.members.model import BIRTHDAY, birthday_days, month_day
from omo2c.members.resolution import Policy, Resolver
from omo2c.sources.canonical import CanonicalEvent
from omo2c.sources.generic import ADAPTER
from tests.support.events import pos_order, sample
from tests.support.memory_store import MemoryMemberStore


@pytest.mark.parametrize(("day", "days"), [
    (date(2026, 3, 14), ["03-14"]), (date(2026, 1, 1), ["01-01"]), (date(2026, 12, 31), ["12-31"]),
    (date(2027, 2, 28), ["02-28", "02-29"]), (date(2100, 2, 28), ["02-28", "02-29"]),  # 2100 is no leap year
    (date(2028, 2, 28), ["02-28"]), (date(2028, 2, 29), ["02-29"]), (date(2000, 2, 28), ["02-28"]),
    (date(2026, 3, 1), ["03-01"]),
])
def test_the_days_to_celebrate(day, days):
    assert birthday_days(day) == days


def test_every_birthday_is_celebrated_exactly_once_a_year():
    for year in (2026, 2027, 2028):
        seen = [md for n in range(366 if year == 2028 else 365)
                for md in birthday_days(date(year, 1, 1) + timedelta(days=n))]
        assert len(seen) == len(set(seen)) == 366


def test_month_day_of_either_form():
    assert month_day("1990-03-14") == month_day("03-14") == "03-14" and month_day(None) is None


def parse(birthday) -> list[CanonicalEvent]:
    event = sample("canonical/pos-order-created.json")
    event["customer"]["birthday"] = birthday
    return ADAPTER.parse("pos", {}, json.dumps(event).encode())


@pytest.mark.parametrize(("given", "kept"), [
    ("1990-03-14", "1990-03-14"), (" 03-14 ", "03-14"), ("02-29", "02-29"), ("2024-02-29", "2024-02-29"),
    ("", None), (None, None),
])
def test_a_birthday_is_a_day_with_or_without_its_year(given, kept):
    (event,) = parse(given)
    assert event.customer.birthday == kept


@pytest.mark.parametrize("given", [
    "2026-02-30", "2023-02-29", "02-30", "13-01", "00-10", "1990-3-14", "1990/03/14", "19900314", "junk",
    "１９９０-03-14", "1899-12-31", "2999-01-01", 19900314, ["03-14"],
])
def test_a_day_that_does_not_exist_is_422_naming_customer_birthday(given):
    with pytest.raises(InvalidEvent) as raised:
        parse(given)
    assert raised.value.status == 422
    assert [d["field"] for d in raised.value.details] == ["customer.birthday"]


def test_the_sample_event_carries_a_birthday():
    (event,) = parse(sample("canonical/pos-order-created.json")["customer"]["birthday"])
    assert event.customer.birthday == "1990-03-14"


def resolver() -> tuple[Resolver, MemoryMemberStore]:
    store = MemoryMemberStore()
    counter = itertools.count(1)
    return Resolver(store, Policy(BlockList(Settings().blocked_identifiers)), new_id=lambda: f"m{next(counter):03d}",
                    sleep=lambda _: None), store


def event(birthday=None, **kwargs) -> CanonicalEvent:
    raw = pos_order(**kwargs)
    if birthday is not None:
        raw["customer"]["birthday"] = birthday
    return CanonicalEvent.model_validate({**raw, "source": "pos"})


def test_the_birthday_is_a_profile_value_the_newest_event_sets():
    r, store = resolver()
    member_id = r.record(event("1990-03-14", event_id="1", occurred_at="2026-01-01T00:00:00+08:00")).member_id
    member = store.get_member(member_id)
    assert member.profile[BIRTHDAY].value == "1990-03-14" and member.profile[BIRTHDAY].source == "pos"
    assert member.birthday_md == "03-14"
    r.record(event(event_id="2", order_id="B", occurred_at="2026-02-01T00:00:00+08:00"))  # no birthday: kept
    assert store.get_member(member_id).birthday_md == "03-14"
    r.record(event("04-01", event_id="3", order_id="C", occurred_at="2026-03-01T00:00:00+08:00"))
    assert store.get_member(member_id).profile_value(BIRTHDAY) == "04-01"


def test_a_merge_keeps_the_newest_birthday_and_the_survivor_keeps_its_own_when_the_other_has_none():
    r, store = resolver()
    old = r.record(event("1990-03-14", event_id="1", phone="0955-000-222", order_id="A",
                         occurred_at="2026-01-01T00:00:00+08:00"))
    young = r.record(event("1991-07-07", event_id="2", phone=None, email="b@example.com", order_id="B",
                           occurred_at="2026-02-01T00:00:00+08:00"))
    none = r.record(event(event_id="3", phone=None, email="c@example.com", order_id="C",
                          occurred_at="2026-02-02T00:00:00+08:00"))
    r.record(event(event_id="4", phone="0955000222", email="c@example.com", order_id="D",
                   occurred_at="2026-03-01T00:00:00+08:00"))
    survivor = store.get_member(none.member_id)
    assert survivor.member_id == old.member_id and survivor.birthday_md == "03-14"
    r.record(event(event_id="5", phone="0955000222", email="b@example.com", order_id="E",
                   occurred_at="2026-03-02T00:00:00+08:00"))
    survivor = store.get_member(young.member_id)
    assert survivor.member_id == old.member_id and survivor.profile_value(BIRTHDAY) == "1991-07-07"
