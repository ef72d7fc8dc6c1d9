"""Resolution rules with an in-memory store: create, attach, merge, unmerge, versions."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from omo2c.core.settings import Settings
from omo2c.identity.identifiers import BlockList, Identifier, IdentifierKind
from omo2c.members.admin import MembersAdmin
from omo2c.members.resolution import Policy, Resolver
from omo2c.sources.canonical import CanonicalEvent
from tests.support.events import pos_order
from tests.support.memory_store import MemoryMemberStore


def resolver() -> tuple[Resolver, MemoryMemberStore]:
    store = MemoryMemberStore()
    counter = itertools.count(1)
    policy = Policy(BlockList(Settings().blocked_identifiers))
    return Resolver(store, policy, new_id=lambda: f"m{next(counter):03d}", sleep=lambda _: None), store


def event(**kwargs) -> CanonicalEvent:
    raw = pos_order(**kwargs)
    return CanonicalEvent.model_validate({**raw, "source": "pos"})


def test_unknown_identifiers_create_a_member_known_ones_attach():
    r, store = resolver()
    first = r.record(event(event_id="1", phone="0955-000-111", order_id="A"))
    second = r.record(event(event_id="2", phone="0955000111", email="a@example.com", order_id="B"))
    assert first.created and not second.created and first.member_id == second.member_id
    member = store.get_member(first.member_id)
    assert Identifier(IdentifierKind.EMAIL, "a@example.com") in member.identifiers
    assert member.rfm.order_count == 2


def test_two_members_merge_into_the_oldest_and_profile_takes_newest_value():
    r, store = resolver()
    old = r.record(event(event_id="1", phone="0955-000-222", order_id="A", name="Old name",
                         occurred_at="2026-01-01T00:00:00+08:00"))
    young = r.record(event(event_id="2", phone=None, email="b@example.com", order_id="B", name="New name",
                           occurred_at="2026-02-01T00:00:00+08:00"))
    merged = r.record(event(event_id="3", phone="0955000222", email="b@example.com", order_id="C", name=None,
                            occurred_at="2026-03-01T00:00:00+08:00"))
    assert merged.member_id == old.member_id and merged.merged == [young.member_id]
    survivor = store.get_member(young.member_id)
    assert survivor.member_id == old.member_id
    assert survivor.profile_value("name") == "New name"
    assert survivor.rfm.order_count == 3


def test_anonymous_walk_in_keeps_the_order_without_inventing_a_member():
    r, store = resolver()
    outcome = r.record(event(event_id="1", phone=None, name=None, order_id="A"))
    assert outcome.member_id is None or outcome.member_id == ""
    assert store.members_by_id == {} and ("pos", "A") in store.orders


def test_refund_before_its_order_is_applied_when_the_order_arrives():
    r, store = resolver()
    r.record(event(event_id="r", phone="0955-000-333", order_id="A", type_="order.refunded", total=1000,
                   occurred_at="2026-01-02T00:00:00+08:00", refunds=[{"refund_id": "R1", "amount": 400}]))
    r.record(event(event_id="c", phone="0955-000-333", order_id="A", total=1000,
                   occurred_at="2026-01-01T00:00:00+08:00"))
    member = store.get_member(next(iter(store.members_by_id)))
    assert member.rfm.order_count == 1 and member.rfm.net_spent == Decimal(600)


ORDER_EVENTS = st.lists(st.sampled_from(["created", "updated_low", "updated_high", "refund_a", "refund_b",
                                         "cancel", "other"]), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(ORDER_EVENTS, st.randoms(use_true_random=False))
def test_any_order_of_deliveries_gives_the_same_rfm(sequence, rnd):
    catalogue = {
        "created": dict(event_id="c", total=1000, occurred_at="2026-01-01T00:00:00+08:00"),
        "updated_low": dict(event_id="u1", total=900, type_="order.updated", occurred_at="2026-01-02T00:00:00+08:00"),
        "updated_high": dict(event_id="u2", total=800, type_="order.updated",
                             occurred_at="2026-01-03T00:00:00+08:00"),
        "refund_a": dict(event_id="ra", total=800, type_="order.refunded", occurred_at="2026-01-04T00:00:00+08:00",
                         refunds=[{"refund_id": "RA", "amount": 100}]),
        "refund_b": dict(event_id="rb", total=800, type_="order.refunded", occurred_at="2026-01-05T00:00:00+08:00",
                         refunds=[{"refund_id": "RB", "amount": 50}]),
        "cancel": dict(event_id="x", total=800, type_="order.cancelled", occurred_at="2026-01-06T00:00:00+08:00"),
        "other": dict(event_id="o", total=70, order_id="B", occurred_at="2026-01-07T00:00:00+08:00"),
    }
    shuffled = list(sequence)
    rnd.shuffle(shuffled)
    results = []
    for order in (sequence, shuffled):
        r, store = resolver()
        for name in order:
            spec = {"order_id": "A", "phone": "0955-000-444", **catalogue[name]}
            r.record(event(**spec))
        member = next(m for m in store.members_by_id.values() if m.live)
        results.append((member.rfm.order_count, member.rfm.net_spent))
    assert results[0] == results[1]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=999), min_size=1, max_size=4),
       st.lists(st.integers(min_value=1, max_value=999), min_size=1, max_size=4))
def test_merge_then_unmerge_restores_both_members(a_totals, b_totals):
    r, store = resolver()
    for i, total in enumerate(a_totals):
        r.record(event(event_id=f"a{i}", phone="0955-000-555", order_id=f"A{i}", total=total,
                       occurred_at=f"2026-01-0{i + 1}T00:00:00+08:00"))
    for i, total in enumerate(b_totals):
        r.record(event(event_id=f"b{i}", phone=None, pos_member_no="PB", order_id=f"B{i}", total=total,
                       occurred_at=f"2026-02-0{i + 1}T00:00:00+08:00"))
    a = store.get_member(store.identities[Identifier(IdentifierKind.PHONE, "+886955000555")].member_id)
    b = store.get_member(store.identities[Identifier(IdentifierKind.POS_MEMBER, "PB")].member_id)
    before = {(m.member_id, m.rfm.order_count, m.rfm.net_spent) for m in (a, b)}
    link = r.record(event(event_id="link", phone="0955000555", pos_member_no="PB", order_id="L", total=1,
                          occurred_at="2026-03-01T00:00:00+08:00", refunds=[]))
    announced = []
    admin = MembersAdmin(store, announced.extend, clock=lambda: datetime(2026, 3, 1, 12, tzinfo=UTC))
    assert admin.unmerge(link.member_id, None)["restored_member_id"] in {a.member_id, b.member_id}
    assert [e.DETAIL_TYPE for e in announced] == ["member.unmerged"]
    r.record(event(event_id="unlink", phone="0955000555", order_id="L", total=1, type_="order.cancelled",
                   occurred_at="2026-03-02T00:00:00+08:00"))
    after_a = store.get_member(a.member_id)
    after_b = store.get_member(b.member_id)
    assert after_a.member_id != after_b.member_id
    assert {(m.member_id, m.rfm.order_count, m.rfm.net_spent) for m in (after_a, after_b)} == before
