"""Bindings: which staff member (or store) a customer belongs to, since when, and for how long.

The policy is configuration (cooldown and expiry in days) and carries a version, so the
binding history says which rules made each decision. Whether a binding still counts is
decided here only (:meth:`Binding.is_active`): attribution, campaigns and the admin views ask it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

CODE_IN_MESSAGE = re.compile(r"#([23456789abcdefghjkmnpqrstuvwxyz]{10})\b")


class ScanOutcome(StrEnum):
    BOUND = "bound"
    REBOUND = "rebound"
    ALREADY = "already"
    KEPT = "kept"


@dataclass(frozen=True)
class BindingPolicy:
    cooldown_days: int = 30
    expiry_days: int = 180
    version: str = "2026-11"


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


@dataclass(frozen=True)
class Binding:
    """A member's binding to a staff member, or to a store when the staff member left it there."""

    staff_id: str | None
    store_id: str | None
    bound_at: datetime
    via: str = "qr"
    policy_version: str = ""
    last_interaction_at: datetime | None = None

    @property
    def last_activity(self) -> datetime:
        return max(self.bound_at, self.last_interaction_at or self.bound_at)

    @property
    def owner(self) -> str:
        """The staff id, or ``store:<id>`` for a store binding: what a scan is compared with."""
        return self.staff_id or f"store:{self.store_id}"

    def expired(self, at: datetime, policy: BindingPolicy) -> bool:
        return at - self.last_activity > timedelta(days=policy.expiry_days)

    def is_active(self, at: datetime, policy: BindingPolicy) -> bool:
        """It counts from the moment it was made until it goes ``expiry_days`` without an interaction."""
        return self.bound_at <= at and not self.expired(at, policy)

    def in_cooldown(self, at: datetime, policy: BindingPolicy) -> bool:
        return at - self.bound_at < timedelta(days=policy.cooldown_days)

    def touched(self, at: datetime) -> Binding:
        return replace(self, last_interaction_at=at)

    def stored(self) -> dict[str, Any]:
        return {"staff_id": self.staff_id, "store_id": self.store_id, "bound_at": self.bound_at.isoformat(),
                "via": self.via, "policy_version": self.policy_version,
                "last_interaction_at": (self.last_interaction_at or self.bound_at).isoformat()}

    @classmethod
    def from_stored(cls, data: dict[str, Any] | None) -> Binding | None:
        if not data or not (data.get("staff_id") or data.get("store_id")):
            return None
        bound_at = _moment(data.get("bound_at"))
        if bound_at is None:
            return None
        return cls(data.get("staff_id") or None, data.get("store_id") or None, bound_at, str(data.get("via") or ""),
                   str(data.get("policy_version") or ""), _moment(data.get("last_interaction_at")))


def active(binding: Binding | None, at: datetime, policy: BindingPolicy) -> Binding | None:
    """The binding when it still counts at that moment, else None."""
    return binding if binding is not None and binding.is_active(at, policy) else None


@dataclass(frozen=True)
class ScanDecision:
    outcome: ScanOutcome
    kept_staff_id: str | None = None


def decide_scan(current: Binding | None, owner: str, now: datetime, policy: BindingPolicy) -> ScanDecision:
    """A scan binds; a scan of someone else's code inside the cooldown keeps the current staff."""
    if current is None or not current.is_active(now, policy):
        return ScanDecision(ScanOutcome.BOUND)
    if current.owner == owner:
        return ScanDecision(ScanOutcome.ALREADY)
    if current.in_cooldown(now, policy):
        return ScanDecision(ScanOutcome.KEPT, kept_staff_id=current.staff_id)
    return ScanDecision(ScanOutcome.REBOUND)


def code_in(text: str) -> str | None:
    match = CODE_IN_MESSAGE.search(text.strip().lower())
    return match.group(1) if match else None


def prefilled_message(staff_name: str, code: str) -> str:
    """The exact text a customer sends after scanning a staff member's QR code."""
    return f"我要綁定專屬服務人員 {staff_name} #{code}"
