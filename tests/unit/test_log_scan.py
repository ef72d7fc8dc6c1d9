"""The log scanner that guards the whole run must itself catch leaks."""

from __future__ import annotations

from tests.support.log_scan import leaks


def test_raw_phones_and_emails_are_leaks_masked_ones_are_not():
    assert leaks("customer 0933-128-765 bought")
    assert leaks("customer +886933128765 bought")
    assert leaks("mail mei@example.com")
    assert not leaks("customer ***765 m***@example.com at 2026-11-24 02:29:18,890+0000")
