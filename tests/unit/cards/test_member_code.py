"""The member code's format: digits only, signed, five minutes, and nothing of the member in it."""

from __future__ import annotations

import inspect

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omo2c.cards import model
from omo2c.cards.model import CODE_LENGTH, Verdict, check, issue, latest_expiry

KEY = "unit-member-code-key"
NOW = 1_795_000_000.25  # late 2026


def test_a_code_is_eighteen_digits_lookup_expiry_and_tag():
    code = issue(NOW, KEY, 300, lookup="12345678")
    assert len(code.code) == CODE_LENGTH == 18 and code.code.isdigit()
    assert code.code[:8] == code.lookup == "12345678"
    assert code.code[8:13] == f"{(int(NOW) + 300) % 100_000:05d}"
    assert code.expires_at == int(NOW) + 300
    assert code.display == f"{code.code[:6]} {code.code[6:12]} {code.code[12:]}"
    assert check(code.code, NOW, KEY) is Verdict.VALID


def test_the_lookup_is_random_each_time():
    lookups = {issue(NOW, KEY).lookup for _ in range(50)}
    assert len(lookups) > 45 and all(len(lookup) == 8 and lookup.isdigit() for lookup in lookups)


def test_the_format_takes_no_member_id_at_all():
    """The code is made from the clock, random digits and the key: the member is only in the table."""
    assert "member" not in " ".join(inspect.signature(issue).parameters)


def test_valid_until_the_second_before_the_expiry_then_expired():
    code = issue(NOW, KEY, 300)
    assert check(code.code, code.expires_at - 1, KEY) is Verdict.VALID
    assert check(code.code, code.expires_at - 0.001, KEY) is Verdict.VALID
    assert check(code.code, code.expires_at, KEY) is Verdict.EXPIRED
    assert check(code.code, code.expires_at + 86_400, KEY) is Verdict.EXPIRED


def test_a_code_never_comes_back_when_its_expiry_digits_come_round():
    """The expiry digits repeat every 100,000 seconds; the tag covers the full expiry, so they mean nothing then."""
    code = issue(NOW, KEY, 300)
    for later in (20 * 3600, 27 * 3600, 100_000 - 10, 100_000, 100_000 + 150, 3 * 100_000 + 5):
        assert check(code.code, NOW + later, KEY) is Verdict.EXPIRED, later
    assert check(code.code, NOW + 30 * 100_000, KEY) is Verdict.FORGED  # a month old: no longer told apart


def test_a_little_clock_skew_between_functions_is_allowed():
    code = issue(NOW, KEY, 300)
    assert check(code.code, NOW - 20, KEY) is Verdict.VALID
    assert check(code.code, NOW - 600, KEY) is Verdict.FORGED  # not a code anyone could have been given yet


def test_the_expiry_is_rebuilt_from_five_digits_around_now():
    code = issue(NOW, KEY, 300)
    assert latest_expiry(code.code, NOW) == code.expires_at
    assert latest_expiry(code.code, code.expires_at - 1) == code.expires_at
    assert latest_expiry(code.code, code.expires_at + 3600) == code.expires_at


def test_a_setting_ttl_is_honoured():
    code = issue(NOW, KEY, 60)
    assert check(code.code, NOW + 59, KEY, 60) is Verdict.VALID
    assert check(code.code, NOW + 61, KEY, 60) is Verdict.EXPIRED
    with pytest.raises(ValueError, match="between"):
        issue(NOW, KEY, 0)
    with pytest.raises(ValueError, match="between"):
        issue(NOW, KEY, model.MAX_TTL_SECONDS + 1)


@pytest.mark.parametrize("position", range(CODE_LENGTH))
def test_changing_any_digit_is_forged(position):
    code = issue(NOW, KEY, 300, lookup="20261122").code
    digit = str((int(code[position]) + 1) % 10)
    changed = code[:position] + digit + code[position + 1:]
    assert check(changed, NOW, KEY) is Verdict.FORGED


def test_another_key_or_a_longer_expiry_is_forged():
    code = issue(NOW, KEY, 300)
    assert check(code.code, NOW, "another-key") is Verdict.FORGED
    body = code.code[:8] + f"{(int(NOW) + 3600) % 100_000:05d}"
    assert check(body + code.code[13:], NOW, KEY) is Verdict.FORGED


@pytest.mark.parametrize("text", ["", "1234", "1" * 17, "1" * 19, "1" * 24, "12345678901234567a",
                                  "１２３４５６７８９０１２３４５６７８", " " + "1" * 17, "-" + "1" * 17])
def test_not_eighteen_ascii_digits_is_forged(text):
    assert check(text, NOW, KEY) is Verdict.FORGED


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="0123456789", min_size=0, max_size=30), st.floats(min_value=0, max_value=4e9))
def test_random_digit_strings_are_never_valid_unless_signed(text, now):
    verdict = check(text, now, KEY)
    assert isinstance(verdict, Verdict)
    if verdict is Verdict.VALID:
        assert len(text) == CODE_LENGTH and model._tag(text[:8], latest_expiry(text, now), KEY) == text[13:]
    if verdict is not Verdict.FORGED:
        assert len(text) == CODE_LENGTH


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_judged_without_raising(text):
    assert check(text, NOW, KEY) in (Verdict.FORGED, Verdict.EXPIRED, Verdict.VALID)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e6, max_value=4e9), st.integers(min_value=1, max_value=model.MAX_TTL_SECONDS))
def test_every_issued_code_is_valid_then_expired(now, ttl):
    code = issue(now, KEY, ttl)
    assert check(code.code, now, KEY, ttl) is Verdict.VALID
    assert check(code.code, code.expires_at, KEY, ttl) is Verdict.EXPIRED
