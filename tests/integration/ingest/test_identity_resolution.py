"""Identity resolution on write against moto: uniqueness, merges, order versions, RFM."""

from __future__ import annotations

import random
import threading
from decimal import Decimal

from omo2c import wiring
from omo2c.binding.model import Binding
from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.sources.canonical import CanonicalEvent
from tests.conftest import TABLES
from tests.support.events import pos_order


def record(raw: dict) -> object:
    return wiring.production().resolver.record(CanonicalEvent.model_validate({**raw, "source": raw.get("channel")}))


def member_by_phone(phone: str):
    return wiring.production().members.find_by_identifier(Identifier(IdentifierKind.PHONE, phone))


def serialize_moto_requests(monkeypatch) -> None:
    """moto's in-process backend is not thread-safe; DynamoDB is linearizable per request.

    One lock around each request keeps moto honest while threads still interleave between
    requests, which is exactly where read-then-write races live.
    """
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.Lock()
    original = BotocoreStubber.process_request

    def locked(self, request):
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", locked)


def test_twenty_concurrent_events_sharing_one_new_phone_make_one_member(aws, monkeypatch):
    serialize_moto_requests(monkeypatch)
    events = [pos_order(f"e-{i}", phone="0955-111-222", order_id=f"O-{i}", total=100) for i in range(20)]
    errors: list[BaseException] = []

    def run(raw: dict) -> None:
        try:
            record(raw)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(e,)) for e in events]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    member = member_by_phone("+886955111222")
    assert member is not None
    assert member.rfm.order_count == 20
    assert member.rfm.net_spent == Decimal(2000)
    scanned = aws["dynamodb"].scan(TableName=TABLES["MembersTable"], FilterExpression="sk = :p",
                                   ExpressionAttributeValues={":p": {"S": "PROFILE"}})["Items"]
    assert len(scanned) == 1


def test_redelivered_event_changes_nothing_and_republishes(aws):
    first = record(pos_order("dup-1", order_id="D-1", total=500))
    again = record(pos_order("dup-1", order_id="D-1", total=500))
    assert again.duplicate and again.events == first.events, "a redelivery publishes the same typed events again"
    member = member_by_phone("+886933128765")
    assert member.rfm.order_count == 1 and member.rfm.net_spent == Decimal(500)


def test_event_with_identifiers_of_two_members_merges_into_the_oldest(aws):
    older = record(pos_order("m-1", phone="0955-222-333", order_id="A-1", total=300,
                             occurred_at="2026-10-01T10:00:00+08:00"))
    newer = record(pos_order("m-2", phone=None, email="Mei@Example.com ", order_id="B-1", total=200,
                             occurred_at="2026-10-05T10:00:00+08:00", name="小美"))
    assert older.member_id != newer.member_id
    bridge = record(pos_order("m-3", phone="0955222333", email="mei@example.com", order_id="C-1", total=100,
                              occurred_at="2026-10-09T10:00:00+08:00", name=None))
    assert bridge.member_id == older.member_id
    assert bridge.merged == [newer.member_id]
    store = wiring.production().members
    survivor = store.get_member(newer.member_id)
    assert survivor.member_id == older.member_id
    assert survivor.rfm.order_count == 3 and survivor.rfm.net_spent == Decimal(600)
    assert survivor.profile_value("name") == "小美"
    by_email = store.find_by_identifier(Identifier(IdentifierKind.EMAIL, "mei@example.com"))
    assert by_email.member_id == older.member_id
    history = store.merge_history(older.member_id)
    assert [(m.absorbed_id, m.event_id) for m in history] == [(newer.member_id, "m-3")]


def test_unmerge_restores_what_the_merge_moved(aws):
    a = record(pos_order("u-1", phone="0955-333-444", order_id="UA", total=300,
                         occurred_at="2026-10-01T10:00:00+08:00"))
    b = record(pos_order("u-2", phone=None, pos_member_no="P-77", order_id="UB", total=200,
                         occurred_at="2026-10-02T10:00:00+08:00"))
    record(pos_order("u-3", phone="0955333444", pos_member_no="P-77", order_id="UC", total=50,
                     occurred_at="2026-10-03T10:00:00+08:00"))
    store = wiring.production().members
    merge = store.merge_history(a.member_id)[0]
    wiring.production().members_admin.unmerge(a.member_id, merge.merge_id)
    restored = store.find_by_identifier(Identifier(IdentifierKind.POS_MEMBER, "P-77"))
    assert restored.member_id == b.member_id and restored.live
    assert restored.rfm.order_count == 1 and restored.rfm.net_spent == Decimal(200)
    survivor = store.get_member(a.member_id)
    assert survivor.rfm.order_count == 2 and survivor.rfm.net_spent == Decimal(350)
    assert store.merge_history(a.member_id)[0].status == "unmerged"


def test_blocked_placeholder_phone_never_merges(aws):
    one = record(pos_order("b-1", phone="0900000000", pos_member_no="W-1", order_id="W1"))
    two = record(pos_order("b-2", phone="0900-000-000", pos_member_no="W-2", order_id="W2"))
    assert one.member_id != two.member_id
    assert member_by_phone("+886900000000") is None


def test_identifier_shared_by_too_many_members_stops_matching(aws):
    ids = []
    for i in range(6):
        ids.append(record(pos_order(f"s-{i}", phone=None, pos_member_no=f"S-{i}", order_id=f"S{i}")).member_id)
    for i in range(1, 6):
        record(pos_order(f"s-link-{i}", phone=None, email="shared@example.com", pos_member_no=f"S-{i}",
                         order_id=f"SL{i}"))
    store = wiring.production().members
    live = {store.get_member(m).member_id for m in ids}
    assert len(live) > 1, "a shared email must not glue every walk-in together"


def test_out_of_order_versions_and_early_refund_keep_rfm_exact(aws):
    created = pos_order("v-1", phone="0955-444-555", order_id="V-1", total=1000,
                        occurred_at="2026-11-01T10:00:00+08:00")
    updated = pos_order("v-2", phone="0955-444-555", order_id="V-1", total=800, type_="order.updated",
                        occurred_at="2026-11-02T10:00:00+08:00")
    refund = pos_order("v-3", phone="0955-444-555", order_id="V-1", total=800, type_="order.refunded",
                       occurred_at="2026-11-03T10:00:00+08:00",
                       refunds=[{"refund_id": "R-1", "amount": 300}])
    other = pos_order("v-4", phone="0955-444-555", order_id="V-2", total=50,
                      occurred_at="2026-10-01T10:00:00+08:00")
    sequence = [refund, updated, created, other, created, refund]
    random.Random(7).shuffle(sequence)
    for raw in sequence:
        record(raw)
    member = member_by_phone("+886955444555")
    assert member.rfm.order_count == 2
    assert member.rfm.net_spent == Decimal(550)
    assert member.rfm.first_order_at < member.rfm.last_order_at


def test_unmerge_gives_the_binding_back_to_the_member_that_brought_it(aws):
    from datetime import UTC, datetime

    older = record(pos_order("ub-1", phone="0955-321-000", order_id="UB1", occurred_at="2026-10-01T10:00:00+08:00"))
    bound = record(pos_order("ub-2", phone=None, pos_member_no="PB-1", order_id="UB2",
                             occurred_at="2026-10-02T10:00:00+08:00"))
    contacts = wiring.production().members
    now = datetime.now(tz=UTC)
    contacts.bind(contacts.get_member(bound.member_id), Binding("S042", "ST01", now, "qr", "test", now))
    record(pos_order("ub-3", phone="0955321000", pos_member_no="PB-1", order_id="UB3",
                     occurred_at="2026-10-03T10:00:00+08:00"))
    assert [m.member_id for m in contacts.bound_to("S042")] == [older.member_id]
    store = wiring.production().members
    wiring.production().members_admin.unmerge(older.member_id, None)
    assert [m.member_id for m in contacts.bound_to("S042")] == [bound.member_id]
    assert store.get_member(older.member_id).binding is None
