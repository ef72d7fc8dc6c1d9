"""Tag and tier segments as rules; who may tag whom; a transaction that stays within 100 items."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from omo2c.access.model import ADMIN, Principal, Role
from omo2c.binding.model import Binding
from omo2c.campaigns.model import Segment
from omo2c.campaigns.rules import matches
from omo2c.core.errors import Forbidden, NotFound
from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.members.model import FirstPosOrder, Member
from omo2c.members.resolution import TRANSACTION_ITEMS, MemberChange, TagGrant, WritePlan, _fit_tags
from omo2c.tags.model import TagRecord
from omo2c.tags.service import MemberTags

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
STAFF = Principal(Role.STAFF, "S001", "ST01")
OTHER_STAFF = Principal(Role.STAFF, "S002", "ST01")
MANAGER = Principal(Role.MANAGER, "S009", "ST01")
OTHER_MANAGER = Principal(Role.MANAGER, "S019", "ST02")


def member(member_id: str = "m1", tags: tuple[str, ...] = ("vip",), staff: str | None = "S001",
           bound_days_ago: int = 10, first_store: str | None = None) -> Member:
    at = NOW - timedelta(days=bound_days_ago)
    binding = Binding(staff, "ST01", at, "qr", "test", at) if staff else None
    first = FirstPosOrder(0, first_store) if first_store else None
    return Member(member_id, 0, tags=list(tags), binding=binding, first_pos_order=first)


def test_segment_tags_compare_in_the_members_spelling():
    segment = Segment(tags=["VIP", "vip", "VIP Customer"], tags_none=[" Lapsed "])
    assert segment.tags == ["vip", "vip-customer"] and segment.tags_none == ["lapsed"]


def test_tags_none_excludes_and_tags_needs_one_of_them():
    assert matches(member(tags=("vip",)), Segment(tags=["vip", "gold"]), NOW)
    assert not matches(member(tags=("vip", "lapsed")), Segment(tags=["vip"], tags_none=["lapsed"]), NOW)
    assert matches(member(tags=("vip",)), Segment(tags_none=["lapsed"]), NOW)
    assert not matches(member(tags=("lapsed",)), Segment(tags_none=["lapsed"]), NOW)


def test_a_tier_segment_matches_only_members_from_the_tier_index():
    assert not matches(member(), Segment(tiers=["gold"]), NOW)
    assert matches(member(), Segment(tiers=["gold"]), NOW, in_tiers=True)
    assert not matches(member(tags=()), Segment(tiers=["gold"], tags=["vip"]), NOW, in_tiers=True)


class FakeTags:
    def __init__(self):
        self.records: list[TagRecord] = []
        self.deleted: list[tuple[str, str, list[str]]] = []

    def tags(self, member_id, absorbed=()):
        return [r for r in self.records if r.holder in (member_id, *absorbed)]

    def put(self, member_id, tag, source, at):
        record = TagRecord(member_id, tag, source, at)
        self.records.append(record)
        return record

    def delete(self, member_id, tag, holders=()):
        self.deleted.append((member_id, tag, list(holders)))


class FakeMembers:
    def __init__(self, *members: Member):
        self.by_id = {m.member_id: m for m in members}

    def get_member(self, member_id):
        return self.by_id.get(member_id)


def service(*members: Member) -> tuple[MemberTags, FakeTags]:
    store = FakeTags()
    return MemberTags(store, FakeMembers(*members), lambda: NOW), store


def test_staff_tag_their_own_customers_and_managers_their_stores():
    tags, _ = service(member("m1"), member("m2", first_store="ST01", staff=None))
    assert tags.put("m1", "Gold", None, STAFF)["source"] == "staff:S001"
    assert tags.put("m2", "gold", None, MANAGER)["source"] == "staff:S009"
    assert tags.put("m1", "new", "rule:x", ADMIN)["source"] == "rule:x"
    assert tags.put("m1", "newer", "admin-says", STAFF)["source"] == "staff:S001"  # only the admin names sources


@pytest.mark.parametrize(("caller", "member_id"), [
    (OTHER_STAFF, "m1"), (OTHER_MANAGER, "m1"), (STAFF, "expired"), (STAFF, "nobody"), (STAFF, "m2")])
def test_out_of_scope_and_unknown_members_are_forbidden_alike(caller, member_id):
    tags, store = service(member("m1"), member("expired", bound_days_ago=400), member("m2", staff=None))
    with pytest.raises(Forbidden):
        tags.put(member_id, "vip", None, caller)
    with pytest.raises(Forbidden):
        tags.delete(member_id, "vip", caller)
    assert not store.records and not store.deleted


def test_the_admin_gets_404_for_nobody():
    tags, _ = service()
    with pytest.raises(NotFound):
        tags.put("nobody", "vip", None, ADMIN)


def test_a_second_put_answers_the_first_provenance_without_writing():
    tags, store = service(member("m1", tags=("vip",)))
    store.records.append(TagRecord("m1", "vip", "webhook:pos", 1000))
    assert tags.put("m1", "VIP", None, STAFF) == {"member_id": "m1", "tag": "vip", "source": "webhook:pos",
                                                  "at": "1970-01-01T00:00:01.000Z"}
    assert len(store.records) == 1


def test_delete_reaches_the_ids_a_merge_brought_and_says_whether_anything_was_there():
    absorbed = member("m1", tags=("vip",))
    absorbed.absorbed = ["old"]
    tags, store = service(absorbed)
    store.records.append(TagRecord("old", "vip", "webhook:ec", 5))
    assert tags.delete("m1", "vip", STAFF) == {"member_id": "m1", "tag": "vip", "removed": True}
    assert store.deleted == [("m1", "vip", ["old"])]
    assert tags.delete("m1", "never", STAFF)["removed"] is False and len(store.deleted) == 1


def test_list_shows_tags_from_before_provenance_too():
    tags, store = service(member("m1", tags=("vip", "old-tag")))
    store.records.append(TagRecord("m1", "vip", "admin", 0))
    assert [(t["tag"], t["source"]) for t in tags.list("m1")] == [("old-tag", None), ("vip", "admin")]


def test_tags_that_would_overflow_the_transaction_are_left_out_of_the_event():
    plan = WritePlan("k", "e", 0)
    plan.new_identities = [(Identifier(IdentifierKind.EMAIL, f"{n}@x.tw"), "m1") for n in range(60)]
    change = MemberChange(Member("m1", 0, tags=[f"t{n}" for n in range(30)]), None)
    plan.members = [change]
    plan.tags = [TagGrant(f"t{n}", "webhook:pos") for n in range(30)]
    _fit_tags(plan, change.member)
    assert plan.transaction_items() <= TRANSACTION_ITEMS
    assert len(plan.tags) == 19 and change.member.tags == [g.tag for g in plan.tags]
