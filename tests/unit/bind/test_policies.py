"""Binding policy, one-time codes and SMS segments: pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from omo2c.binding.model import Binding, BindingPolicy, ScanOutcome, code_in, decide_scan, prefilled_message
from omo2c.channels.sms import segments
from omo2c.identity.verification import PendingCode, code_hash, looks_like_code, matches, new_code

NOW = datetime(2026, 11, 24, 10, tzinfo=UTC)
POLICY = BindingPolicy(cooldown_days=30, expiry_days=180)


def binding(staff="S001", days_ago=10, interacted_days_ago=None):
    bound = NOW - timedelta(days=days_ago)
    last = NOW - timedelta(days=interacted_days_ago if interacted_days_ago is not None else days_ago)
    return Binding(staff, "ST01", bound, "qr", "test", last)


def test_first_scan_binds_same_staff_is_already_bound():
    assert decide_scan(None, "S001", NOW, POLICY).outcome is ScanOutcome.BOUND
    assert decide_scan(binding(), "S001", NOW, POLICY).outcome is ScanOutcome.ALREADY


def test_another_staff_inside_cooldown_keeps_the_current_one_after_it_replaces():
    kept = decide_scan(binding(days_ago=10), "S002", NOW, POLICY)
    assert kept.outcome is ScanOutcome.KEPT and kept.kept_staff_id == "S001"
    assert decide_scan(binding(days_ago=31), "S002", NOW, POLICY).outcome is ScanOutcome.REBOUND


def test_binding_expires_without_interaction():
    assert binding(days_ago=400, interacted_days_ago=10).is_active(NOW, POLICY)
    assert not binding(days_ago=400, interacted_days_ago=181).is_active(NOW, POLICY)
    assert not binding(days_ago=-1).is_active(NOW, POLICY), "a binding does not count before it was made"


def test_a_binding_reads_back_what_it_stores():
    original = binding(days_ago=3, interacted_days_ago=1)
    assert Binding.from_stored(original.stored()) == original
    assert Binding.from_stored({"staff_id": None, "store_id": None}) is None
    assert decide_scan(binding(days_ago=400, interacted_days_ago=181), "S002", NOW, POLICY).outcome \
        is ScanOutcome.BOUND


def test_code_is_found_in_the_prefilled_message_only():
    assert code_in(prefilled_message("王小明", "ab23cd45ef")) == "ab23cd45ef"
    assert code_in("hello #abc") is None and code_in("0912345678") is None


def test_one_time_codes_are_six_digits_hashed_per_user():
    code = new_code()
    assert looks_like_code(code) and not looks_like_code("12345a")
    pending = PendingCode("Uabc", "+886955000111", code_hash(code, "Uabc"), expires_at=100)
    assert matches(pending, code) and not matches(pending, "x" + code[1:])
    assert code_hash(code, "Uabc") != code_hash(code, "Uother")
    assert pending.expired(100) and not pending.expired(99)


@pytest.mark.parametrize(("text", "parts"), [("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
                                             ("中" * 70, 1), ("中" * 71, 2), ("中" * 134, 2), ("中" * 135, 3),
                                             ("【Brand】hi", 1)])
def test_sms_segments(text, parts):
    assert segments(text) == parts
