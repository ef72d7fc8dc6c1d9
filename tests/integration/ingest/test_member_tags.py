"""Tags in the members table stay unique: a string set, also when older items stored them as a list."""

from __future__ import annotations

from omo2c import wiring
from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.sources.canonical import CanonicalEvent
from tests.conftest import TABLES
from tests.support.events import pos_order

PHONE = Identifier(IdentifierKind.PHONE, "+886955700900")


def record(event_id: str, *tags: str, day: int) -> None:
    raw = pos_order(event_id, phone="0955-700-900", order_id=f"O-{event_id}",
                    occurred_at=f"2026-11-{day:02d}T10:00:00+08:00")
    raw["customer"]["tags"] = list(tags)
    wiring.production().resolver.record(CanonicalEvent.model_validate({**raw, "source": "pos"}))


def test_three_events_through_the_fast_path_keep_each_tag_once(aws):
    for day in range(3):
        record(f"e{day}", "vip", f"t{day}", day=day + 1)
    record("untagged", day=5)
    member = wiring.production().members.find_by_identifier(PHONE)
    assert sorted(member.tags) == ["t0", "t1", "t2", "vip"] and len(member.tags) == 4


def test_a_list_stored_before_is_read_and_becomes_a_set_on_the_next_tagged_event(aws):
    record("e0", "vip", day=1)
    member = wiring.production().members.find_by_identifier(PHONE)
    aws["dynamodb"].update_item(
        TableName=TABLES["MembersTable"], Key={"pk": {"S": f"MEMBER#{member.member_id}"}, "sk": {"S": "PROFILE"}},
        UpdateExpression="SET tags = :t", ExpressionAttributeValues={":t": {"L": [{"S": "vip"}, {"S": "vip"}]}})
    assert wiring.production().members.get_member(member.member_id).tags == ["vip"]
    record("e1", "vip", "new", day=2)
    record("e2", "vip", "newer", day=3)
    assert sorted(wiring.production().members.get_member(member.member_id).tags) == ["new", "newer", "vip"]
    raw = aws["dynamodb"].get_item(TableName=TABLES["MembersTable"],
                                   Key={"pk": {"S": f"MEMBER#{member.member_id}"}, "sk": {"S": "PROFILE"}})["Item"]
    assert set(raw["tags"]["SS"]) == {"new", "newer", "vip"}
