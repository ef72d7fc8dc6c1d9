"""Members as the business sees them, and the pure rules that change them.

Nothing here talks to AWS: the resolution service reads snapshots through a store port,
decides with these rules and hands the store one write plan to commit atomically.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from omo2c.binding.model import Binding
from omo2c.core.privacy import mask_email, mask_phone
from omo2c.identity.identifiers import Identifier, IdentifierKind

NO_ORDER_DAY = "0000-00-00"
BIRTHDAY = "birthday"  # the profile value: "YYYY-MM-DD", or "MM-DD" when the year is unknown


class Napl(StrEnum):
    """New / Active / Passive / Lost, from first and last order times."""

    NEW = "new"
    ACTIVE = "active"
    PASSIVE = "passive"
    LOST = "lost"
    PROSPECT = "prospect"


@dataclass(frozen=True)
class ProfileValue:
    value: str
    source: str
    at: int


@dataclass(frozen=True)
class Rfm:
    first_order_at: int | None = None
    last_order_at: int | None = None
    order_count: int = 0
    net_spent: Decimal = Decimal(0)

    def with_order(self, placed_at: int | None, count_delta: int, net_delta: Decimal) -> Rfm:
        first, last = self.first_order_at, self.last_order_at
        if placed_at is not None:
            first = placed_at if first is None else min(first, placed_at)
            last = placed_at if last is None else max(last, placed_at)
        return Rfm(first, last, self.order_count + count_delta, self.net_spent + net_delta)

    def combined(self, other: Rfm) -> Rfm:
        firsts = [t for t in (self.first_order_at, other.first_order_at) if t is not None]
        lasts = [t for t in (self.last_order_at, other.last_order_at) if t is not None]
        return Rfm(
            min(firsts) if firsts else None,
            max(lasts) if lasts else None,
            self.order_count + other.order_count,
            self.net_spent + other.net_spent,
        )

    def without(self, other: Rfm) -> Rfm:
        """Undo :meth:`combined` for counts and amounts; times keep what remains knowable."""
        return Rfm(self.first_order_at, self.last_order_at,
                   max(0, self.order_count - other.order_count), self.net_spent - other.net_spent)

    def napl(self, now: datetime, window_days: int = 90) -> Napl:
        if self.order_count <= 0 or self.last_order_at is None or self.first_order_at is None:
            return Napl.PROSPECT
        now_ms = int(now.timestamp() * 1000)
        window = window_days * 86_400_000
        if now_ms - self.last_order_at > 2 * window:
            return Napl.LOST
        if now_ms - self.last_order_at > window:
            return Napl.PASSIVE
        if now_ms - self.first_order_at <= window and self.order_count == 1:
            return Napl.NEW
        return Napl.ACTIVE


@dataclass(frozen=True, order=True)
class FirstPosOrder:
    """When and where the member first bought at a shop counter: the home store of the unbound.

    Ordered by time, then store id, so the earliest is the same whatever order events arrive in."""

    at: int
    store_id: str


def earliest(*orders: FirstPosOrder | None) -> FirstPosOrder | None:
    return min((o for o in orders if o is not None), default=None)


def month_day(birthday: str | None) -> str | None:
    """The ``MM-DD`` of a birthday as the profile keeps it (``YYYY-MM-DD`` or ``MM-DD``)."""
    return birthday[-5:] if birthday else None


def birthday_days(local_date: date) -> list[str]:
    """The birthdays (``MM-DD``) to celebrate on this day of the member's calendar: the day's own and, on
    28 February of a year with no 29th, those born on 29 February too."""
    days = [f"{local_date.month:02d}-{local_date.day:02d}"]
    if (local_date.month, local_date.day) == (2, 28) and not calendar.isleap(local_date.year):
        days.append("02-29")
    return days


@dataclass(frozen=True)
class LineStatus:
    """The member's LINE user as the Official Account last saw it: followed or not, and since when."""

    user_id: str
    followed: bool
    updated_at: str = ""

    @property
    def reachable(self) -> bool:
        return self.followed

    def stored(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "followed": self.followed, "reachable": self.followed,
                "updated_at": self.updated_at}

    @classmethod
    def from_stored(cls, data: dict[str, Any] | None) -> LineStatus | None:
        if not data or not data.get("user_id"):
            return None
        followed = bool(data.get("followed")) and data.get("reachable", True) is not False
        return cls(str(data["user_id"]), followed, str(data.get("updated_at") or ""))


@dataclass
class Member:
    member_id: str
    created_at: int
    status: str = "live"
    merged_into: str | None = None
    identifiers: list[Identifier] = field(default_factory=list)
    profile: dict[str, ProfileValue] = field(default_factory=dict)
    consent: dict[str, bool] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    rfm: Rfm = field(default_factory=Rfm)
    absorbed: list[str] = field(default_factory=list)
    last_event_at: int = 0
    version: int = 0
    line: LineStatus | None = None
    binding: Binding | None = None
    opted_out: bool = False
    first_pos_order: FirstPosOrder | None = None
    email_bounced: str | None = None  # the address SES reported as a permanent bounce or a complaint

    @property
    def live(self) -> bool:
        return self.status == "live"

    def profile_value(self, name: str) -> str | None:
        entry = self.profile.get(name)
        return entry.value if entry else None

    @property
    def birthday_md(self) -> str | None:
        """``MM-DD`` of the member's birthday, if the profile has one."""
        return month_day(self.profile_value(BIRTHDAY))

    def identifier(self, kind: IdentifierKind) -> str | None:
        return next((i.value for i in self.identifiers if i.kind is kind), None)

    @property
    def line_user_id(self) -> str | None:
        """The LINE user the Official Account knows, else the one a LINE identity names."""
        return (self.line.user_id if self.line else None) or self.identifier(IdentifierKind.LINE_USER)

    @property
    def phone(self) -> str | None:
        return self.identifier(IdentifierKind.PHONE)

    @property
    def email(self) -> str | None:
        return self.identifier(IdentifierKind.EMAIL)

    @property
    def deliverable_email(self) -> str | None:
        """The member's e-mail address that has not bounced: a consent given later does not revive a dead
        address, while a new address is tried."""
        return next((i.value for i in self.identifiers
                     if i.kind is IdentifierKind.EMAIL and i.value != self.email_bounced), None)


def merge_profiles(*profiles: dict[str, ProfileValue]) -> dict[str, ProfileValue]:
    """Each field takes the most recent non-empty value, with its source."""
    merged: dict[str, ProfileValue] = {}
    for profile in profiles:
        for name, entry in profile.items():
            if not entry.value:
                continue
            current = merged.get(name)
            if current is None or entry.at >= current.at:
                merged[name] = entry
    return merged


def update_consent(current: dict[str, bool], incoming: dict[str, bool]) -> dict[str, bool]:
    """A member's newest statement of consent replaces the older one, channel by channel."""
    return {**current, **incoming}


def merge_consent(first: dict[str, bool], second: dict[str, bool]) -> dict[str, bool]:
    """Merging two members: an opt-out on either side wins over an opt-in."""
    merged = dict(first)
    for channel, value in second.items():
        merged[channel] = merged[channel] and value if channel in merged else value
    return merged


def choose_survivor(members: list[Member]) -> Member:
    """The oldest member survives a merge (ties broken by id, so every writer agrees)."""
    return min(members, key=lambda m: (m.created_at, m.member_id))


def home_store(member: Member, active_binding: Binding | None) -> str | None:
    """The active binding's store, else the store of the first POS order: a customer of a store
    belongs to it whether or not they ever bound in LINE. Pass the binding only when it is active."""
    if active_binding is not None and active_binding.store_id:
        return active_binding.store_id
    return member.first_pos_order.store_id if member.first_pos_order else None


def masked(identifier: Identifier) -> dict[str, str]:
    value = identifier.value
    if identifier.kind is IdentifierKind.PHONE:
        value = mask_phone(value)
    elif identifier.kind is IdentifierKind.EMAIL:
        value = mask_email(value)
    return {"kind": identifier.kind.value, "value": value}


def binding_view(binding: Binding | None, active: bool) -> dict[str, Any] | None:
    if binding is None:
        return None
    return {**binding.stored(), "active": active}


def member_view(member: Member, merges: list[dict[str, object]], now: datetime, window_days: int,
                binding_active: bool) -> dict[str, object]:
    """The admin's picture of one member: identities masked, RFM, NAPL, binding, merges."""
    rfm = member.rfm
    return {
        "member_id": member.member_id,
        "status": member.status,
        "created_at": _iso(member.created_at),
        "name": member.profile_value("name"),
        "profile": {k: {"value": v.value, "source": v.source, "at": _iso(v.at)} for k, v in member.profile.items()},
        "identities": [masked(i) for i in member.identifiers],
        "consent": member.consent,
        "tags": member.tags,
        "orders": {
            "count": rfm.order_count,
            "net_spent": str(rfm.net_spent),
            "first_order_at": _iso(rfm.first_order_at),
            "last_order_at": _iso(rfm.last_order_at),
        },
        "napl": rfm.napl(now, window_days).value,
        "line": member.line.stored() if member.line else {},
        "binding": binding_view(member.binding, binding_active),
        "home_store_id": home_store(member, member.binding if binding_active else None),
        "opted_out": member.opted_out,
        "merged_members": member.absorbed,
        "merges": merges,
    }


def _iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
