"""Unsubscribe tokens: URL-safe, short, signed, dated; anything else reads as nothing."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omo2c.mailing.tokens import MAX_TOKEN_LENGTH, UnsubscribeClaim, UnsubscribeTokens

KEY = "unit-unsubscribe-key"
NOW = datetime(2026, 11, 24, 3, 15, tzinfo=UTC)
IDS = ("0123456789abcdef0123", "c0ffee00c0ffee00", "20261124T031500-abc123")


def tokens(now: datetime = NOW, key: str = KEY, days: int = 400) -> UnsubscribeTokens:
    return UnsubscribeTokens(lambda: key, days, lambda: now)


def test_a_token_is_url_safe_short_and_reads_back():
    token = tokens().issue(*IDS)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token) and "=" not in token
    assert len(token) < 150
    assert tokens().read(token) == UnsubscribeClaim(*IDS, issued_at=datetime(2026, 11, 24, tzinfo=UTC))


def test_a_token_carries_ids_only():
    token = tokens().issue(*IDS)
    decoded = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert decoded.startswith(b"1|0123456789abcdef0123|c0ffee00c0ffee00|20261124T031500-abc123|")


def test_valid_for_the_configured_days_then_refused():
    token = tokens().issue(*IDS)
    assert tokens(NOW + timedelta(days=400)).read(token) is not None
    assert tokens(NOW + timedelta(days=401)).read(token) is None
    assert tokens(NOW + timedelta(days=8), days=7).read(token) is None
    assert tokens(NOW - timedelta(days=1)).read(token) is not None, "a little clock skew is allowed"
    assert tokens(NOW - timedelta(days=3)).read(token) is None, "not issued yet"


def test_another_key_or_any_changed_character_is_refused():
    token = tokens().issue(*IDS)
    assert tokens(key="another-key").read(token) is None
    for i in range(len(token)):
        changed = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1:]
        assert tokens().read(changed) is None, i
    assert tokens().read(token[:-1]) is None and tokens().read(token + "A") is None


@pytest.mark.parametrize("run_id", ["r", "rr", "rrr"])
def test_one_token_has_one_spelling(run_id):
    """Base64 leaves a few bits of the last character unused: setting them is not the same token."""
    token = tokens().issue("m", "c", run_id)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twins = [token[:-1] + alphabet[alphabet.index(token[-1]) ^ bit] for bit in (1, 2, 3)]
    assert tokens().read(token) is not None
    assert all(tokens().read(twin) is None for twin in twins)


def test_a_re_signed_payload_of_another_member_needs_the_key():
    """Swapping the member id in the payload keeps the old tag, which no longer matches."""
    token = tokens().issue(*IDS)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    forged = raw.replace(b"0123456789abcdef0123", b"fedcba9876543210fedc")
    assert tokens().read(base64.urlsafe_b64encode(forged).rstrip(b"=").decode()) is None


@pytest.mark.parametrize("junk", ["", "=", "a", "a" * (MAX_TOKEN_LENGTH + 1), "../../etc/passwd", "<script>",
                                  "AAAA====", "有效", "AQID BAUG", None, 12])
def test_junk_reads_as_nothing(junk):
    assert tokens().read(junk) is None


@given(st.text(max_size=400))
@settings(max_examples=300, deadline=None)
def test_any_text_reads_as_nothing(junk):
    assert tokens().read(junk) is None


@given(st.binary(max_size=240))
@settings(max_examples=300, deadline=None)
def test_any_url_safe_word_without_the_key_reads_as_nothing(data):
    assert tokens().read(base64.urlsafe_b64encode(data).rstrip(b"=").decode()) is None


@given(st.from_regex(r"[A-Za-z0-9]{1,24}", fullmatch=True), st.from_regex(r"[A-Za-z0-9_-]{1,24}", fullmatch=True))
@settings(max_examples=100, deadline=None)
def test_any_ids_round_trip(member_id, run_id):
    assert tokens().read(tokens().issue(member_id, "campaign", run_id)).member_id == member_id


def test_ids_that_could_not_be_read_back_are_refused_at_issue():
    for ids in (("", "c", "r"), ("m|x", "c", "r"), ("m", "c", "r" * 300)):
        with pytest.raises(ValueError):
            tokens().issue(*ids)


def test_the_key_is_read_once():
    reads = []
    issuer = UnsubscribeTokens(lambda: reads.append(1) or KEY, 400, lambda: NOW)
    issuer.read(issuer.issue(*IDS))
    issuer.issue(*IDS)
    assert reads == [1]
