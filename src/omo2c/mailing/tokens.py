"""Unsubscribe tokens: who, which campaign run and which day, signed, in one URL-safe word.

Format: base64url without padding of ``payload || tag`` where

* ``payload`` is ``1|<member id>|<campaign id>|<run id>|<issue day>`` in UTF-8 (the day as days
  since 1970-01-01, UTC);
* ``tag`` is the first 16 bytes of HMAC-SHA256 keyed with the secret ``unsubscribe-key`` over
  ``omo2c-unsubscribe:v1:`` + ``payload``.

A token of the project's ids is about 120 characters. It is stateless: :meth:`UnsubscribeTokens.read`
checks the tag (in constant time) and the age with the key and the clock alone, so a forged, altered,
truncated or too old link is refused before anything is read. The token names the member id the
message was sent to; the service follows merges from there. Tokens carry ids, never an address.
Changing the key voids every link in circulation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cached_property

VERSION = "1"
SEPARATOR = "|"
TAG_BYTES = 16
MAX_TOKEN_LENGTH = 300
_DOMAIN = b"omo2c-unsubscribe:v1:"
_EPOCH = date(1970, 1, 1)
_ALPHABET = re.compile(r"^[A-Za-z0-9_\-]+$")


@dataclass(frozen=True)
class UnsubscribeClaim:
    member_id: str
    campaign_id: str
    run_id: str
    issued_at: datetime  # the day the link was issued, at 00:00 UTC (tokens carry the day only)


def _day(at: datetime) -> int:
    return (at.astimezone(UTC).date() - _EPOCH).days


class UnsubscribeTokens:
    """Issue and read unsubscribe tokens; the key is read on first use, then kept."""

    def __init__(self, key: Callable[[], str], valid_days: int, clock: Callable[[], datetime]) -> None:
        self._key_source = key
        self.valid_days = valid_days
        self.clock = clock

    @cached_property
    def _key(self) -> bytes:
        return self._key_source().encode()

    def _tag(self, payload: bytes) -> bytes:
        return hmac.new(self._key, _DOMAIN + payload, hashlib.sha256).digest()[:TAG_BYTES]

    def issue(self, member_id: str, campaign_id: str, run_id: str) -> str:
        parts = (member_id, campaign_id, run_id)
        if any(not part or SEPARATOR in part for part in parts):
            raise ValueError("member, campaign and run ids must be non-empty and without '|'")
        payload = SEPARATOR.join((VERSION, *parts, str(_day(self.clock())))).encode()
        token = base64.urlsafe_b64encode(payload + self._tag(payload)).rstrip(b"=").decode("ascii")
        if len(token) > MAX_TOKEN_LENGTH:
            raise ValueError("the ids are too long for an unsubscribe link")
        return token

    def read(self, token: str) -> UnsubscribeClaim | None:
        """The claim of a token this key signed within ``valid_days``; None for anything else."""
        if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH or not _ALPHABET.match(token):
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return None
        if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != token:
            return None  # one token has one spelling: unused trailing bits set are not the same token
        payload, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
        if not payload or len(tag) != TAG_BYTES or not hmac.compare_digest(self._tag(payload), tag):
            return None
        try:
            version, member_id, campaign_id, run_id, day = payload.decode("utf-8").split(SEPARATOR)
            issued = int(day)
        except ValueError:
            return None
        if version != VERSION or not (member_id and campaign_id and run_id) or not day.isdigit():
            return None
        age = _day(self.clock()) - issued
        if age > self.valid_days or age < -1:  # a day ahead at most: the issuing clock may run a little fast
            return None
        issued_at = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=issued)
        return UnsubscribeClaim(member_id, campaign_id, run_id, issued_at)
