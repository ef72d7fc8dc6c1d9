"""Staff, codes and bindings as the attribution rules ask for them, read from their own stores.

A referral code is a staff QR code or, failing that, a share link's code (the link's staff member).
"""

from __future__ import annotations

from typing import Protocol

from omo2c.binding.model import Binding
from omo2c.members.model import Member
from omo2c.staff.model import Staff, StaffCode


class Directory(Protocol):
    def staff(self, staff_id: str) -> Staff | None: ...

    def code(self, code: str) -> StaffCode | None: ...


class Codes(Protocol):
    def code(self, code: str) -> StaffCode | None: ...


class Members(Protocol):
    def get_member(self, member_id: str) -> Member | None: ...


class CreditLookups:
    def __init__(self, directory: Directory, members: Members, links: Codes | None = None) -> None:
        self.directory, self.members, self.links = directory, members, links

    def staff(self, staff_id: str) -> Staff | None:
        return self.directory.staff(staff_id)

    def code(self, code: str) -> StaffCode | None:
        found = self.directory.code(code)
        if found is None and self.links is not None:
            return self.links.code(code)
        return found

    def binding(self, member_id: str) -> Binding | None:
        member = self.members.get_member(member_id)
        return member.binding if member else None
