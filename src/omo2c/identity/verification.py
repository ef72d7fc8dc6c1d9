"""One-time codes that prove a phone number: short-lived, few tries, few per hour, stored hashed with a secret."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import phonenumbers


@dataclass(frozen=True)
class OtpPolicy:
    """Who may be sent a code, how often, and for how long it can be guessed.

    ``per_hour`` caps one LINE account (whatever the phone); ``per_phone_hour`` caps one phone across
    accounts and is larger, so no single account can use up a phone's hour and lock its owner out.
    ``regions`` and the stack-wide ``hourly_budget`` bound what SMS pumping can cost.
    """

    ttl_seconds: int = 600
    max_tries: int = 5
    per_hour: int = 3
    per_phone_hour: int = 10
    regions: tuple[str, ...] = ("TW",)
    hourly_budget: int = 500

    def __post_init__(self) -> None:
        if self.per_phone_hour <= self.per_hour:
            raise ValueError("per_phone_hour must exceed per_hour, or one account could lock a phone's owner out")

    def sends_to(self, phone_e164: str) -> bool:
        try:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(phone_e164))
        except phonenumbers.NumberParseException:
            return False
        return bool(region) and region.upper() in {r.upper() for r in self.regions}

    def tries_left(self, spent: PendingCode) -> int:
        return max(0, self.max_tries - spent.tries)


@dataclass(frozen=True)
class PendingCode:
    line_user_id: str
    phone: str
    code_hash: str
    expires_at: int
    tries: int = 0

    def expired(self, now: int) -> bool:
        return now >= self.expires_at


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def code_hash(code: str, line_user_id: str, key: str) -> str:
    """Keyed with the stage's secret: a leaked row (hash beside its LINE user) cannot be searched for its code."""
    if not key:
        raise ValueError("one-time codes need the otp-key secret")
    return hmac.new(key.encode(), f"{line_user_id}:{code}".encode(), hashlib.sha256).hexdigest()


def matches(pending: PendingCode, code: str, key: str) -> bool:
    return hmac.compare_digest(pending.code_hash, code_hash(code, pending.line_user_id, key))


def looks_like_code(text: str) -> bool:
    return len(text.strip()) == 6 and text.strip().isdigit()
