"""The LINE port's own signature check agrees with line-bot-sdk's, and nothing loads the SDK before a send."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from infra.template import ROOT
from omo2c.channels.line import signature_valid
from omo2c.sources.signatures import body_signature


def _signed(secret: str, body: str) -> str:
    return body_signature(secret, body.encode())


@settings(deadline=None)  # the first example imports the SDK
@given(secret=st.text(min_size=1, max_size=40), body=st.text(max_size=300), other=st.text(max_size=60))
def test_the_check_gives_the_sdk_validators_answer(secret, body, other):
    from linebot.v3.webhook import SignatureValidator

    sdk = SignatureValidator(secret)
    for signature in (_signed(secret, body), _signed(secret + "x", body), other):
        ascii_only = signature.isascii()  # the SDK's str comparison raises on non-ASCII instead of refusing
        if ascii_only:
            assert signature_valid(body, signature, secret) is sdk.validate(body, signature)
        else:
            assert signature_valid(body, signature, secret) is False


def test_a_missing_or_tampered_signature_is_refused():
    good = _signed("s3cret", '{"events":[]}')
    assert signature_valid('{"events":[]}', good, "s3cret")
    assert not signature_valid('{"events": []}', good, "s3cret")
    assert not signature_valid('{"events":[]}', None, "s3cret")
    assert not signature_valid('{"events":[]}', "", "s3cret")
    assert not signature_valid('{"events":[]}', good[:-2], "s3cret")


PROBE = """
import sys
from omo2c.channels.line import MessagingApiMessenger
asked = []
messenger = MessagingApiMessenger("http://127.0.0.1:9", lambda: asked.append(1) or "token")
assert "linebot" not in sys.modules and not asked, "the SDK or the token was loaded before any send"
messenger._api
assert "linebot.v3.messaging" in sys.modules and asked == [1]
"""


def test_the_messenger_loads_the_sdk_and_its_token_on_the_first_send_only():
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-800:]
