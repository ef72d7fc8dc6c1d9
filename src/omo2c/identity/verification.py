"""One-time codes that prove a phone number: short-lived, few tries, few per hour, stored hashed."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass


@dataclass(frozen=True)
class OtpPolicy:
    ttl_seconds: int = 600
    max_tries: int = 5
    per_hour: int = 3


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


def code_hash(code: str, salt: str) -> str:
    """Keyed by the LINE user so a leaked table row does not give away codes."""
    return hmac.new(salt.encode(), code.encode(), hashlib.sha256).hexdigest()


def matches(pending: PendingCode, code: str) -> bool:
    return hmac.compare_digest(pending.code_hash, code_hash(code, pending.line_user_id))


def looks_like_code(text: str) -> bool:
    return len(text.strip()) == 6 and text.strip().isdigit()
