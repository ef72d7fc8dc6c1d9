"""The member card service without AWS: issuing, the intake's refusal, the worker's resolution, the Flex card."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from omo2c.cards.model import Verdict, issue
from omo2c.cards.service import FIELD, OWNER_GRACE_SECONDS, MemberCards, MemberCodeCheck, card_message
from omo2c.core.errors import Conflict
from omo2c.core.settings import Settings
from omo2c.identity.identifiers import BlockList, Identifier, IdentifierKind
from omo2c.members.model import Member, ProfileValue
from omo2c.members.resolution import Policy, Resolver
from omo2c.sources.canonical import CanonicalEvent
from tests.support.events import pos_order
from tests.support.memory_store import MemoryMemberStore

KEY = "unit-member-code-key"
START = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)
LINE_USER = "U" + "c3" * 16


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class MemoryCodes:
    def __init__(self, taken: int = 0) -> None:
        self.owners: dict[str, tuple[str, int]] = {}
        self.taken = taken

    def put(self, lookup, member_id, expires_at):
        if self.taken or lookup in self.owners:
            self.taken = max(0, self.taken - 1)
            raise Conflict("taken")
        self.owners[lookup] = (member_id, expires_at)

    def owner(self, lookup, now=None):
        found = self.owners.get(lookup)
        return found[0] if found and (now is None or found[1] > now) else None


def cards(members=None, summary=None, codes=None, clock=None, reads=None):
    def key():
        if reads is not None:
            reads.append(1)
        return KEY

    return MemberCards(codes or MemoryCodes(), key, 300, clock or Clock(), members=members, summary=summary)


def order(code: str | None, **customer) -> CanonicalEvent:
    raw = pos_order("pos-card-1", phone=None, name=None, order_id="ST01-9", total=880)
    raw["customer"] = {k: v for k, v in {"member_code": code, **customer}.items() if v is not None}
    return CanonicalEvent.model_validate({**raw, "source": "pos"})


def test_issue_stores_the_owner_a_day_past_the_expiry_and_shows_grouped_digits():
    codes, clock = MemoryCodes(), Clock()
    view = cards(codes=codes, clock=clock).issue("m001")
    assert len(view["code"]) == 18 and view["display"].replace(" ", "") == view["code"]
    assert view["expires_at"] == int(START.timestamp()) + 300 and view["valid_seconds"] == 300
    assert view["image_path"] == f"/member-card/{view['code']}"
    assert codes.owners == {view["code"][:8]: ("m001", view["expires_at"] + OWNER_GRACE_SECONDS)}


def test_a_taken_lookup_draws_again_and_endless_collisions_are_a_conflict():
    codes = MemoryCodes(taken=2)
    assert cards(codes=codes).issue("m001")["code"][:8] in codes.owners
    with pytest.raises(Conflict):
        cards(codes=MemoryCodes(taken=99)).issue("m001")


def test_the_code_never_holds_the_member_id_and_is_new_each_time():
    member_id = "12345678901234567890"
    service = cards()
    views = [service.issue(member_id) for _ in range(20)]
    assert len({v["code"] for v in views}) == 20
    for view in views:
        assert member_id[:8] not in view["code"] and member_id not in str(view)


def test_the_key_is_read_once():
    reads: list[int] = []
    service = cards(reads=reads)
    service.issue("m1")
    service.issue("m2")
    service.check("0" * 18)
    assert reads == [1]


def test_refuse_names_the_field_for_forged_and_expired_codes_only():
    clock = Clock()
    check = MemberCodeCheck(lambda: KEY, 300, clock)
    good = issue(clock().timestamp(), KEY, 300).code
    assert check.refuse(order(None, phone="0933128765")) is None
    assert check.refuse(order(good)) is None
    forged = check.refuse(order("1" * 18))
    assert forged == [{"field": FIELD, "problem": "not a member code of this brand", "event_id": "pos-card-1"}]
    clock.now += timedelta(seconds=300)
    expired = check.refuse(order(good))
    assert [d["field"] for d in expired] == ["customer.member_code"] and "expired" in expired[0]["problem"]


def resolver(store: MemoryMemberStore) -> Resolver:
    counter = itertools.count(1)
    return Resolver(store, Policy(BlockList(Settings().blocked_identifiers)), new_id=lambda: f"m{next(counter):03d}",
                    sleep=lambda _: None)


def line_member(store: MemoryMemberStore, **customer) -> Member:
    raw = {"event_id": "line-1", "type": "member.upserted", "occurred_at": "2026-11-01T10:00:00+08:00",
           "channel": "line", "source": "line", "customer": {"line_user_id": LINE_USER, **customer}}
    outcome = resolver(store).record(CanonicalEvent.model_validate(raw))
    return store.get_member(outcome.member_id)


def test_a_pos_order_with_the_code_and_no_phone_is_counted_for_the_card_member():
    store = MemoryMemberStore()
    member = line_member(store)
    service = cards(members=store)
    code = service.issue(member.member_id)["code"]
    resolved = service.resolve(order(code))
    assert resolved.customer.member_code is None and resolved.customer.line_user_id == LINE_USER
    outcome = resolver(store).record(resolved)
    assert outcome.member_id == member.member_id and not outcome.created
    assert store.get_member(member.member_id).rfm.order_count == 1


def test_the_strongest_identifier_is_copied_and_what_the_cashier_sent_is_kept():
    store = MemoryMemberStore()
    member = line_member(store, phone="0955-123-456", pos_member_no="M0042", email="mei@example.com")
    service = cards(members=store)
    code = service.issue(member.member_id)["code"]
    assert service.resolve(order(code)).customer.pos_member_no == "M0042"
    kept = service.resolve(order(code, pos_member_no="M0042"))
    assert kept.customer.pos_member_no == "M0042" and kept.customer.phone == "+886955123456"


def test_an_ec_customer_id_is_copied_only_into_an_order_from_its_own_source():
    store = MemoryMemberStore()
    member = line_member(store)
    member.identifiers = [Identifier(IdentifierKind.EC_CUSTOMER, "ec:C-7"), *member.identifiers]
    store.members_by_id[member.member_id] = member
    service = cards(members=store)
    code = service.issue(member.member_id)["code"]
    assert service.resolve(order(code)).customer.ec_customer_id is None
    ec_order = order(code).model_copy(update={"source": "ec"})
    assert service.resolve(ec_order).customer.ec_customer_id == "C-7"


def test_a_code_nobody_owns_is_dropped_and_no_member_is_invented():
    store = MemoryMemberStore()
    service = cards(members=store)
    stray = issue(START.timestamp(), KEY, 300).code
    resolved = service.resolve(order(stray))
    assert resolved.customer.member_code is None and resolved.customer.model_dump(exclude_defaults=True) == {}
    outcome = resolver(store).record(resolved)
    assert outcome.member_id is None and not store.members_by_id


def test_an_owner_past_its_grace_is_unknown():
    store, clock, codes = MemoryMemberStore(), Clock(), MemoryCodes()
    member = line_member(store)
    service = cards(members=store, clock=clock, codes=codes)
    code = service.issue(member.member_id)["code"]
    clock.now += timedelta(seconds=300 + OWNER_GRACE_SECONDS)
    assert service.resolve(order(code)).customer.line_user_id is None


def test_an_event_without_a_code_is_left_alone():
    event = order(None, phone="0933128765")
    assert cards().resolve(event) is event


def named(name: str | None = "林小美") -> Member:
    profile = {"name": ProfileValue(name, "pos", 0)} if name else {}
    return Member(member_id="m001", created_at=0, profile=profile)


def test_the_card_is_a_flex_bubble_with_the_qr_image_digits_tier_and_points():
    view = cards().issue("m001")
    summary = {"tier": {"id": "gold", "name": "金卡"}, "points": {"available": 1280, "pending": 40}}
    message = card_message(named(), view, summary, "https://api.example.com/", brand="好日子")
    assert message["type"] == "flex" and view["display"] in message["altText"]
    bubble = message["contents"]
    assert bubble["hero"]["url"] == f"https://api.example.com/member-card/{view['code']}"
    texts = str(bubble)
    for expected in ("好日子", "林小美 的會員卡", view["display"], "金卡", "1,280 點", "40 點", "5 分鐘內有效"):
        assert expected in texts, expected
    assert "m001" not in texts
    assert bubble["footer"]["contents"][0]["action"]["data"] == "action=member_card"


def test_without_a_summary_the_card_has_no_tier_rows_and_a_nameless_member_is_a_member():
    message = card_message(named(None), cards().issue("m001"), None, "http://localhost:3000")
    texts = str(message)
    assert "會員等級" not in texts and "點數" not in texts and "會員 的會員卡" in texts


def test_a_failing_summary_still_gives_the_card():
    def broken(_member_id):
        raise RuntimeError("loyalty is down")

    message = cards(summary=broken).card_for(named(), "https://x.example")
    assert "會員等級" not in str(message) and message["contents"]["hero"]["url"].startswith("https://x.example/")


def test_the_image_is_a_png_only_while_the_code_is_valid():
    clock = Clock()
    check = MemberCodeCheck(lambda: KEY, 300, clock)
    code = issue(clock().timestamp(), KEY, 300).code
    assert check.image(code).startswith(b"\x89PNG")
    assert check.image("1" * 18) is None
    clock.now += timedelta(minutes=5)
    assert check.verdict(code) is Verdict.EXPIRED and check.image(code) is None
