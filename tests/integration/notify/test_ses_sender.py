"""SesEmailSender against moto's SES v2: the local sender is verified, and the stored raw message is whole."""

from __future__ import annotations

import email
import email.policy
import os

import pytest

from infra.local import email_view
from infra.moto_stack import LOCAL_EMAIL_FROM
from omo2c import wiring
from omo2c.channels.email import EmailMessage, EmailRejected, SesEmailSender, html_document

URL = "http://127.0.0.1:3000/u/MXwwMTIzNDU2Nzg5YWJjZGVmMDEyM3xjMGZmZWUwMGMwZmZlZTAwfDIwMjYxMTI0VDAzMTUwMC1h"
TEXT = "林小美您好：\n本週新品 https://shop.example.com/p/tea-01\n王小明"


def message(to: str = "mei@example.com") -> EmailMessage:
    return EmailMessage(to=to, subject="【熟成紅茶】本週新品", text=TEXT, html=html_document(TEXT, "熟成茶行", URL),
                        unsubscribe_url=URL, unsubscribe_mailto="unsubscribe@brand.tw",
                        tags={"campaign_id": "c1", "run_id": "r1", "member_id": "m1"})


def stored() -> list:
    from moto.ses.models import ses_backends

    return [m for m in ses_backends["123456789012"]["ap-northeast-1"].sent_messages if hasattr(m, "raw_data")]


def test_the_local_sender_is_configured_and_sends_both_parts_and_both_headers(aws):
    assert os.environ["OMO_EMAIL_FROM"] == LOCAL_EMAIL_FROM
    sender = wiring.production().email
    assert isinstance(sender, SesEmailSender) and sender.configuration_set == "omo2c-dev-email"
    message_id = sender.send(message())
    (raw,) = stored()
    assert raw.id == message_id
    parsed = email.message_from_string(raw.raw_data, policy=email.policy.default)
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
    assert parsed["List-Unsubscribe"] == f"<mailto:unsubscribe@brand.tw?subject=unsubscribe>, <{URL}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["From"] == LOCAL_EMAIL_FROM and parsed["Subject"] == "【熟成紅茶】本週新品"

    view = email_view(raw.id, raw.raw_data)
    assert view["from"] == LOCAL_EMAIL_FROM and view["to"] == "mei@example.com"
    assert view["headers"] == {"List-Unsubscribe": parsed["List-Unsubscribe"],
                               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    assert view["text"].replace("\r\n", "\n").rstrip("\n") == TEXT
    assert f'href="{URL}"' in view["html"] and "取消訂閱" in view["html"]


def test_an_unverified_sender_is_rejected_for_good(aws):
    with pytest.raises(EmailRejected):
        SesEmailSender("Someone <someone@unverified.example>").send(message())
    assert stored() == []


def test_an_empty_sender_sends_nothing(aws):
    with pytest.raises(EmailRejected, match="no sender address is configured"):
        SesEmailSender("").send(message())
    assert stored() == []
