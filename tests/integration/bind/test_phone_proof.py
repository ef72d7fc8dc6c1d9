"""Proving a phone in LINE against moto, under attack: SMS pumping, raced guesses, victim lockout, leaked rows."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from omo2c import wiring
from omo2c.core.observability import metrics
from omo2c.core.settings import Settings
from omo2c.identity.storage import OneTimeCodeItem
from tests.conftest import LOCAL_SECRETS
from tests.integration.ingest.test_identity_resolution import serialize_moto_requests
from tests.support.aws import http_event, load_handler
from tests.support.events import line_body, line_event, line_signature
from tests.support.fakes import FakeMessenger, FakeSms

SECRET = LOCAL_SECRETS["LINE_CHANNEL_SECRET"]
OWNER = "U" + "a1" * 16
ATTACKER = "U" + "c3" * 16
PHONE = "+886955888999"


@pytest.fixture
def proofs(aws, lambda_context):
    """`proofs(**settings)` is one LINE channel, as test_line_binding's `line`, at a fixed hour so quotas hold still."""
    webhook = load_handler("LineWebhookFunction")
    now = datetime.now(tz=UTC)
    metrics.clear_metrics()
    event_ids = itertools.count()

    class Line:
        def __init__(self, settings: Settings):
            self.messenger, self.sms = FakeMessenger(), FakeSms()
            self.services = wiring.Services(settings, messenger=self.messenger, sms=self.sms, clock=lambda: now)

        def say(self, user: str, text: str) -> str:
            body = line_body(line_event("message", user_id=user, text=text, event_id=f"pp-{next(event_ids)}"))
            headers = {"X-Line-Signature": line_signature(body, SECRET), "Content-Type": "application/json"}
            event = http_event("POST", "/line/webhook", route="/line/webhook", body=body, headers=headers)
            response = webhook.lambda_handler(event, lambda_context, services=self.services)
            assert response["statusCode"] == 200, response
            return response["body"]

        def codes(self, phone: str = PHONE) -> list[str]:
            return [re.search(r"\d{6}", text).group(0) for to, text in self.sms.sent if to == phone]

    return lambda **overrides: Line(Settings.from_env().model_copy(update=overrides))


def test_codes_go_only_to_allowed_regions_and_a_refusal_is_polite_and_counted(proofs):
    line = proofs()
    for abroad in ("+44 7911 123456", "+1 650-253-0000", "+81 90-1234-5678"):
        line.say(ATTACKER, abroad)
        assert "國家或地區" in line.messenger.last_reply()
    assert line.sms.sent == []
    assert metrics.metric_set["PhoneCodesRefusedRegion"]["Value"] == [1, 1, 1]
    line.say(OWNER, "0955-888-999")
    assert len(line.codes()) == 1

    japan_too = proofs(otp_regions=("TW", "JP"))
    japan_too.say(OWNER, "+81 90-1234-5678")
    assert len(japan_too.codes("+819012345678")) == 1


def test_the_hourly_budget_caps_codes_for_the_whole_stack(proofs):
    line = proofs(otp_hourly_budget=2)
    for i, phone in enumerate(("0955-000-111", "0955-000-222", "0955-000-333")):
        line.say("U" + f"{i:02d}" * 16, phone)
    assert len(line.sms.sent) == 2
    assert "稍後再試" in line.messenger.last_reply()
    assert metrics.metric_set["PhoneCodesRefusedBudget"]["Value"] == [1]


def test_one_account_cannot_lock_the_owner_out_of_codes_for_their_phone(proofs):
    line = proofs()
    for _ in range(4):
        line.say(ATTACKER, "0955-888-999")
    assert len(line.codes()) == 3 and "一小時後再試" in line.messenger.last_reply()

    line.say(OWNER, "0955888999")
    assert len(line.codes()) == 4, "the owner's own account still gets a code"
    line.say(OWNER, line.codes()[-1])
    assert "驗證完成" in line.messenger.last_reply()


def test_many_accounts_together_still_send_a_phone_only_so_many_codes_an_hour(proofs):
    line = proofs()
    for account in range(5):
        for _ in range(3):
            line.say("U" + f"{account:02d}" * 16, "0955-888-999")
    assert len(line.codes()) == line.services.line_conversation.otp_policy.per_phone_hour == 10


def test_concurrent_wrong_guesses_use_up_the_tries_before_any_is_checked(proofs, monkeypatch):
    serialize_moto_requests(monkeypatch)
    line = proofs()
    line.say(OWNER, "0955-888-999")
    right = line.codes()[0]
    wrong = [f"{(int(right) + i) % 1_000_000:06d}" for i in range(1, 9)]
    conversation = line.services.line_conversation
    with ThreadPoolExecutor(len(wrong)) as pool:  # map raises any guess's error here
        outcomes = list(pool.map(lambda code: conversation.handle(
            line_event("message", user_id=OWNER, text=code, event_id=code)), wrong))
    assert outcomes.count("wrong code") == 5, outcomes
    assert set(outcomes) - {"wrong code"} <= {"code expired", "ignored: no pending code"}, outcomes
    assert conversation.handle(line_event("message", user_id=OWNER, text=right, event_id="right")) != "phone verified"
    with pytest.raises(OneTimeCodeItem.DoesNotExist):
        OneTimeCodeItem.get(f"OTP#{OWNER}", "PENDING")


def test_a_stored_code_hash_does_not_verify_without_the_secret(proofs, monkeypatch):
    line = proofs()
    line.say(OWNER, "0955-888-999")
    code = line.codes()[0]
    stored = OneTimeCodeItem.get(f"OTP#{OWNER}", "PENDING").code_hash
    assert code not in stored
    assert stored != hmac.new(OWNER.encode(), code.encode(), hashlib.sha256).hexdigest(), \
        "the row alone (hash and LINE user id) must not be enough to test a guess"

    monkeypatch.setenv("OMO_OTP_KEY", "another-stage-key")
    other_key = proofs()
    assert '"wrong code"' in other_key.say(OWNER, code)
    monkeypatch.setenv("OMO_OTP_KEY", LOCAL_SECRETS["OMO_OTP_KEY"])
    assert '"phone verified"' in proofs().say(OWNER, code)
