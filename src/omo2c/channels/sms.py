"""SMS behind a one-method port; Amazon SNS is the provider here, a Taiwan gateway is one more class."""

from __future__ import annotations

import math
from typing import Any, Protocol

from omo2c.core.aws import client

GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)


class SmsFailed(RuntimeError):
    """The provider refused or failed; the caller's message is retried."""


class SmsSender(Protocol):
    def send(self, phone_e164: str, text: str, *, transactional: bool = False) -> str: ...


def segments(text: str) -> int:
    """Billable parts: GSM-7 160 (153 when split), otherwise UCS-2 70 (67 when split)."""
    if all(ch in GSM7 for ch in text):
        length, single, part = len(text), 160, 153
    else:
        length, single, part = len(text.encode("utf-16-le")) // 2, 70, 67
    return 1 if length <= single else math.ceil(length / part)


class SnsSmsSender:
    def __init__(self, sns: Any | None = None, sender_id: str | None = None) -> None:
        self._sns = sns
        self.sender_id = sender_id

    def send(self, phone_e164: str, text: str, *, transactional: bool = False) -> str:
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String",
                                              "StringValue": "Transactional" if transactional else "Promotional"}}
        if self.sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self.sender_id}
        sns = self._sns or client("sns")
        try:
            return sns.publish(PhoneNumber=phone_e164, Message=text, MessageAttributes=attributes)["MessageId"]
        except Exception as exc:
            raise SmsFailed(type(exc).__name__) from exc
