"""What a LINE event needs from the members table, in as few round trips as DynamoDB allows."""

from __future__ import annotations

from dataclasses import dataclass

from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.members.model import Member
from omo2c.members.storage import (
    DynamoMemberStore,
    MemberItem,
    identity_from_raw,
    identity_key,
    member_from_item,
    member_key,
)
from omo2c.staff.model import Staff, StaffCode
from omo2c.staff.storage import code_from_raw, staff_code_key, staff_from_raw, staff_key


@dataclass(frozen=True)
class ScanContext:
    """A binding message's facts: who sent it, which code it carries, whose code that is."""

    member: Member | None
    code: StaffCode | None
    staff: Staff | None


class LineReads:
    def __init__(self, members: DynamoMemberStore) -> None:
        self.members = members

    def scan(self, line_user_id: str, code: str) -> ScanContext:
        """Two consistent BatchGetItems: the LINE identity and the code, then the member and the staff."""
        identity = identity_key(Identifier(IdentifierKind.LINE_USER, line_user_id))
        first = self.members.read([identity, staff_code_key(code)])
        owner = identity_from_raw(Identifier(IdentifierKind.LINE_USER, line_user_id), first[identity]) \
            if identity in first else None
        staff_code = code_from_raw(first[staff_code_key(code)]) if staff_code_key(code) in first else None
        keys = ([member_key(owner.member_id)] if owner else []) + \
            ([staff_key(staff_code.staff_id)] if staff_code else [])
        second = self.members.read(keys) if keys else {}
        member = None
        if owner and member_key(owner.member_id) in second:
            member = member_from_item(MemberItem.from_raw_data(second[member_key(owner.member_id)]))
            if not member.live:
                member = self.members.get_member(member.member_id)
        staff = None
        if staff_code and staff_key(staff_code.staff_id) in second:
            staff = staff_from_raw(second[staff_key(staff_code.staff_id)])
        return ScanContext(member, staff_code, staff)
