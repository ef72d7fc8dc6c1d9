"""The member card's code: digits a cashier can type, signed with a secret, valid a few minutes.

Format: 18 digits, ``LLLLLLLL EEEEE TTTTT``.

* ``L`` (8) the lookup: random digits (``secrets``), the key of the stored owner
  (``pk=MEMBERCODE#<lookup>``). It is drawn afresh for every code and has nothing to do with the
  member id, so a code never contains nor reveals who it belongs to; only the table does.
* ``E`` (5) the expiry: epoch seconds mod 100,000 (the digits come round every 27.8 hours).
* ``T`` (5) the tag: HMAC-SHA256 keyed with the secret ``member-code-key`` over
  ``omo2c-member-code:v1:<lookup>:<full expiry in epoch seconds>``; the digest's first 8 bytes as a
  number, mod 100,000. The tag covers the *full* expiry, so when the five digits come round again the
  code does not become valid again: the checker reads the latest expiry those digits can stand for
  (at most the TTL ahead of now), and the tag matches it only in the code's own window.

:func:`check` is stateless (the key and the clock only), so the webhook intake refuses a forged or
expired code without reading DynamoDB. A random 18-digit string passes the tag one time in 100,000,
and then still names a live lookup only by chance (8 digits); only signed POS/EC sources are heard.
Changing the key voids every code in circulation (they live minutes).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

LOOKUP_DIGITS, EXPIRY_DIGITS, TAG_DIGITS = 8, 5, 5
CODE_LENGTH = LOOKUP_DIGITS + EXPIRY_DIGITS + TAG_DIGITS
EXPIRY_WRAP = 10 ** EXPIRY_DIGITS
MAX_TTL_SECONDS = 12 * 3600  # well under the expiry digits' period, so one window holds one expiry
CLOCK_SKEW_SECONDS = 30  # the issuing function's clock may run a little ahead of the checking one's
EXPIRED_WRAPS = 3  # how many periods back a signed code is still told apart as expired (older: forged)
_DOMAIN = b"omo2c-member-code:v1:"


class Verdict(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    FORGED = "forged"


@dataclass(frozen=True)
class MemberCode:
    code: str
    expires_at: int

    @property
    def lookup(self) -> str:
        return lookup_of(self.code)

    @property
    def display(self) -> str:
        """Three groups of six, easier to read out and type at the counter."""
        return grouped(self.code)


def grouped(code: str) -> str:
    return " ".join(code[i:i + 6] for i in range(0, len(code), 6))


def lookup_of(code: str) -> str:
    return code[:LOOKUP_DIGITS]


def _tag(lookup: str, expires_at: int, key: str) -> str:
    digest = hmac.new(key.encode(), _DOMAIN + f"{lookup}:{expires_at}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10 ** TAG_DIGITS:0{TAG_DIGITS}d}"


def _ttl(ttl_seconds: int) -> int:
    if not 0 < ttl_seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"a member code lives between 1 and {MAX_TTL_SECONDS} seconds")
    return ttl_seconds


def issue(now: float, key: str, ttl_seconds: int = 300, lookup: str | None = None) -> MemberCode:
    """A new code valid ``ttl_seconds`` from ``now``; ``lookup`` only for tests (random otherwise)."""
    expires_at = int(now) + _ttl(ttl_seconds)
    lookup = lookup if lookup is not None else f"{secrets.randbelow(10 ** LOOKUP_DIGITS):0{LOOKUP_DIGITS}d}"
    if len(lookup) != LOOKUP_DIGITS or not lookup.isascii() or not lookup.isdigit():
        raise ValueError("a lookup is 8 digits")
    code = f"{lookup}{expires_at % EXPIRY_WRAP:0{EXPIRY_DIGITS}d}{_tag(lookup, expires_at, key)}"
    return MemberCode(code, expires_at)


def latest_expiry(code: str, now: float, ttl_seconds: int = 300) -> int:
    """The latest full expiry the code's five digits can stand for: no later than a code issued now expires."""
    horizon = int(now) + _ttl(ttl_seconds) + CLOCK_SKEW_SECONDS
    digits = int(code[LOOKUP_DIGITS:LOOKUP_DIGITS + EXPIRY_DIGITS])
    return horizon - (horizon - digits) % EXPIRY_WRAP


def check(code: str, now: float, key: str, ttl_seconds: int = 300) -> Verdict:
    """Valid: signed for an expiry still ahead of ``now``. Expired: signed for one that passed (up to
    :data:`EXPIRED_WRAPS` periods back). Forged: anything else, from a wrong length to a tag the key did not make."""
    if len(code) != CODE_LENGTH or not code.isascii() or not code.isdigit():
        return Verdict.FORGED
    lookup, tag = lookup_of(code), code[-TAG_DIGITS:]
    latest = latest_expiry(code, now, ttl_seconds)
    if hmac.compare_digest(_tag(lookup, latest, key), tag):
        return Verdict.VALID if latest > now else Verdict.EXPIRED
    for wraps in range(1, EXPIRED_WRAPS + 1):
        if hmac.compare_digest(_tag(lookup, latest - wraps * EXPIRY_WRAP, key), tag):
            return Verdict.EXPIRED
    return Verdict.FORGED
