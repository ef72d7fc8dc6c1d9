"""Staff members, stores and the codes behind staff QR codes and shared links."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_LENGTH = 10


@dataclass(frozen=True)
class Store:
    store_id: str
    name: str
    phone: str | None = None


@dataclass(frozen=True)
class Staff:
    staff_id: str
    name: str
    store_id: str | None
    status: str = "active"
    code: str | None = None
    transfer_to_staff_id: str | None = None
    transfer_to_store_id: str | None = None
    role: str = "staff"
    line_user_id: str | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class StaffCode:
    code: str
    staff_id: str
    status: str
    issued_at: datetime

    @property
    def active(self) -> bool:
        return self.status == "active"


def new_code(length: int = CODE_LENGTH) -> str:
    """Unguessable, short enough to type, no look-alike characters."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


LINK_CODE_LENGTH = 12
LINK_CODE_IN_MESSAGE = re.compile(rf"\bLINK-([{CODE_ALPHABET}]{{{LINK_CODE_LENGTH}}})\b", re.IGNORECASE)


def link_message(staff_name: str, code: str) -> str:
    """What a staff member sends the Official Account from their own LINE to link it to their staff record."""
    return f"員工帳號連結 {staff_name} LINK-{code}"


def link_code_in(text: str) -> str | None:
    match = LINK_CODE_IN_MESSAGE.search(text.strip())
    return match.group(1).lower() if match else None


def link_code_hash(code: str) -> str:
    """Link codes are stored hashed: a read of the table gives nobody a way to take over a staff account."""
    return hashlib.sha256(f"staff-link:{code.lower()}".encode()).hexdigest()


MAX_HANDOVERS = 5


@dataclass(frozen=True)
class Handover:
    """Who serves a staff member's customers now: themselves, a successor, or the store they were left to."""

    staff: Staff | None
    store_id: str | None
    hops: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return self.staff is not None or self.store_id is not None

    @property
    def owner_store_id(self) -> str | None:
        return self.staff.store_id if self.staff is not None else self.store_id


def follow_departures(staff: Staff | None, staff_by_id: Callable[[str], Staff | None]) -> Handover:
    """Walk the transfer targets of staff who left until an active staff member or a store takes over."""
    hops: list[str] = []
    current = staff
    for _ in range(MAX_HANDOVERS):
        if current is None or current.active:
            return Handover(current, None, tuple(hops))
        hops.append(current.staff_id)
        if not current.transfer_to_staff_id:
            return Handover(None, current.transfer_to_store_id or current.store_id, tuple(hops))
        if current.transfer_to_staff_id in hops:
            break
        current = staff_by_id(current.transfer_to_staff_id)
    return Handover(None, None, tuple(hops))
