"""Staff members, stores and the codes behind staff QR codes and shared links."""

from __future__ import annotations

import secrets
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


def new_code() -> str:
    """Unguessable, short enough to type, no look-alike characters."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def credited_staff(staff: Staff | None, lookup: dict[str, Staff]) -> tuple[Staff | None, str | None, list[str]]:
    """Who is credited for a staff member: themselves, or whoever took over when they left.

    Returns (staff, store id when the store itself took over, the hops taken).
    """
    hops: list[str] = []
    current = staff
    for _ in range(5):
        if current is None or current.active:
            return current, None, hops
        hops.append(current.staff_id)
        if current.transfer_to_staff_id:
            current = lookup.get(current.transfer_to_staff_id)
            continue
        return None, current.transfer_to_store_id or current.store_id, hops
    return None, None, hops
