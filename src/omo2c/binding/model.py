"""Binding policy: which staff member a customer belongs to after a scan, and for how long.

The policy is configuration (cooldown and expiry in days) and carries a version, so the
binding history says which rules made each decision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
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


@dataclass(frozen=True)
class ScanDecision:
    outcome: ScanOutcome
    kept_staff_id: str | None = None


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def is_active(binding: dict[str, Any] | None, now: datetime, policy: BindingPolicy) -> bool:
    """A binding counts until it goes ``expiry_days`` without an interaction."""
    if not binding or not (binding.get("staff_id") or binding.get("store_id")):
        return False
    last = _time(binding.get("last_interaction_at")) or _time(binding.get("bound_at"))
    return last is not None and now - last <= timedelta(days=policy.expiry_days)


def decide_scan(current: dict[str, Any] | None, staff_id: str, now: datetime, policy: BindingPolicy) -> ScanDecision:
    """A scan binds; a scan of someone else's code inside the cooldown keeps the current staff."""
    if not is_active(current, now, policy):
        return ScanDecision(ScanOutcome.BOUND)
    assert current is not None
    if current.get("staff_id") == staff_id:
        return ScanDecision(ScanOutcome.ALREADY)
    bound_at = _time(current.get("bound_at"))
    if bound_at is not None and now - bound_at < timedelta(days=policy.cooldown_days):
        return ScanDecision(ScanOutcome.KEPT, kept_staff_id=current.get("staff_id"))
    return ScanDecision(ScanOutcome.REBOUND)


def code_in(text: str) -> str | None:
    match = CODE_IN_MESSAGE.search(text.strip().lower())
    return match.group(1) if match else None


def prefilled_message(staff_name: str, code: str) -> str:
    """The exact text a customer sends after scanning a staff member's QR code."""
    return f"我要綁定專屬服務人員 {staff_name} #{code}"
