"""Binding policy, one-time codes and SMS segments: pure rules, and the phone proof against an in-memory store."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from omo2c.binding.model import Binding, BindingPolicy, ScanOutcome, code_in, decide_scan, prefilled_message
from omo2c.channels.sms import segments
from omo2c.core.settings import Settings
from omo2c.identity.identifiers import BlockList
from omo2c.identity.verification import OtpPolicy, PendingCode, code_hash, looks_like_code, matches, new_code
from omo2c.line.conversation import LineConversation
from omo2c.members.model import Member
from omo2c.members.resolution import Outcome
from tests.support.events import line_event
from tests.support.fakes import FakeMessenger, FakeSms

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


def test_one_time_codes_are_six_digits_hashed_per_user_with_the_secret():
    code = new_code()
    assert looks_like_code(code) and not looks_like_code("12345a")
    pending = PendingCode("Uabc", "+886955000111", code_hash(code, "Uabc", "k1"), expires_at=100)
    assert matches(pending, code, "k1") and not matches(pending, "x" + code[1:], "k1")
    assert not matches(pending, code, "k2"), "without the secret the stored hash verifies nothing"
    assert code_hash(code, "Uabc", "k1") != code_hash(code, "Uother", "k1")
    with pytest.raises(ValueError):
        code_hash(code, "Uabc", "")
    assert pending.expired(100) and not pending.expired(99)


def test_codes_go_only_to_allowed_regions():
    policy = OtpPolicy()
    assert policy.sends_to("+886955000111")
    assert not policy.sends_to("+447911123456") and not policy.sends_to("+16502530000")
    assert OtpPolicy(regions=("tw", "jp")).sends_to("+819012345678")
    settings = Settings.from_env({"OMO_OTP_REGIONS": "TW, JP", "OMO_OTP_HOURLY_BUDGET": "50"})
    assert settings.otp_regions == ("TW", "JP") and settings.otp_hourly_budget == 50
    assert Settings().otp_regions == ("TW",) and Settings().otp_hourly_budget == 500


def test_one_account_can_never_use_up_a_phones_hour():
    assert OtpPolicy().per_phone_hour > OtpPolicy().per_hour
    with pytest.raises(ValueError):
        OtpPolicy(per_hour=3, per_phone_hour=3)


class MemoryProofs:
    """The storage's conditions in memory: each call is atomic, as one DynamoDB request is."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.codes: dict[str, PendingCode] = {}
        self.counts: dict[tuple[str, str, str], int] = {}

    def take_code_quota(self, kind, value, hour, limit, expires_at):
        with self.lock:
            taken = self.counts.get((kind, value, hour), 0)
            if taken >= limit:
                return False
            self.counts[(kind, value, hour)] = taken + 1
            return True

    def put_code(self, pending):
        self.codes[pending.line_user_id] = pending

    def pending_code(self, line_user_id):
        return self.codes.get(line_user_id)

    def use_try(self, line_user_id, max_tries, now):
        with self.lock:
            pending = self.codes.get(line_user_id)
            if pending is None or pending.expired(now) or pending.tries >= max_tries:
                return None
            self.codes[line_user_id] = spent = replace(pending, tries=pending.tries + 1)
            return spent

    def drop_code(self, pending):
        with self.lock:
            if (current := self.codes.get(pending.line_user_id)) and current.code_hash == pending.code_hash:
                del self.codes[pending.line_user_id]


class OneMember:
    def find_by_identifier(self, identifier):
        return Member("m-1", 0)


class Resolver:
    def record(self, event, **_):
        return Outcome("m-1")


def phone_proof(proofs: MemoryProofs) -> tuple[LineConversation, FakeSms]:
    sms = FakeSms()
    conversation = LineConversation(
        resolver=Resolver(), members=OneMember(), reads=None, proofs=proofs, directory=None,
        messenger=FakeMessenger(), sms=sms, publish=lambda events: None, brand="B", blocklist=BlockList(),
        opt_out_keywords=(), opt_in_keywords=(), otp_key="unit-key", clock=lambda: NOW)
    return conversation, sms


def say(conversation: LineConversation, user: str, text: str) -> str:
    return conversation.handle(line_event("message", user_id=user, text=text, event_id=f"{user}-{text}"))


def test_a_guess_is_compared_only_after_it_used_up_one_of_the_five_tries():
    conversation, sms = phone_proof(MemoryProofs())
    say(conversation, "Uowner", "0955-888-999")
    right = sms.sent[0][1].split("是 ")[1][:6]
    wrong = [f"{(int(right) + i) % 1_000_000:06d}" for i in range(1, 9)]
    with ThreadPoolExecutor(len(wrong)) as pool:
        outcomes = list(pool.map(lambda code: say(conversation, "Uowner", code), wrong))
    assert outcomes.count("wrong code") == 5, outcomes
    assert set(outcomes) - {"wrong code"} <= {"code expired", "ignored: no pending code"}, outcomes
    assert say(conversation, "Uowner", right) != "phone verified"

    say(conversation, "Uother", "0955-777-666")
    assert say(conversation, "Uother", wrong[0]) == "wrong code"
    assert say(conversation, "Uother", sms.sent[-1][1].split("是 ")[1][:6]) == "phone verified"


def test_an_attackers_requests_for_a_phone_leave_its_owner_a_code():
    conversation, sms = phone_proof(MemoryProofs())
    outcomes = [say(conversation, "Uattacker", f"0955-888-999{' ' * i}") for i in range(4)]
    assert outcomes == ["code sent"] * 3 + ["rate limited"]
    assert say(conversation, "Uowner", "0955888999") == "code sent"
    assert len(sms.sent) == 4


@pytest.mark.parametrize(("text", "parts"), [("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
                                             ("中" * 70, 1), ("中" * 71, 2), ("中" * 134, 2), ("中" * 135, 3),
                                             ("【Brand】hi", 1)])
def test_sms_segments(text, parts):
    assert segments(text) == parts
