"""What SES publishes about a sent message, as EmailFeedbackQueue receives it.

The configuration set's event destination publishes bounces and complaints to the account's
default EventBridge bus (source ``aws.ses``, detail-type ``Email Bounced`` or ``Email Complaint
Received``); ``EmailFeedbackRule`` sends them to the queue. The detail is SES's event record:
``eventType`` (``Bounce``, ``Complaint``), ``mail`` (``messageId``, ``destination``, and ``tags``
— our ``campaign_id``, ``run_id`` and ``member_id`` each as a one-item list, beside SES's own
``ses:*`` tags) and ``bounce`` (``bounceType`` Permanent/Transient/Undetermined,
``bouncedRecipients[].emailAddress``) or ``complaint`` (``complainedRecipients[].emailAddress``,
``complaintFeedbackType`` when the mailbox provider sent one). Fields we do not use are ignored.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Json

from omo2c.events import QueuedRecord

SES_SOURCE = "aws.ses"
DETAIL_TYPES = ("Email Bounced", "Email Complaint Received")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Recipient(_Lenient):
    email_address: str = Field(alias="emailAddress", min_length=1)


class Bounce(_Lenient):
    bounce_type: str = Field(alias="bounceType")
    bounced_recipients: list[Recipient] = Field(alias="bouncedRecipients", default_factory=list)


class Complaint(_Lenient):
    complained_recipients: list[Recipient] = Field(alias="complainedRecipients", default_factory=list)
    feedback_type: str | None = Field(alias="complaintFeedbackType", default=None)


class Mail(_Lenient):
    message_id: str = Field(alias="messageId", default="")
    destination: list[str] = Field(default_factory=list)
    tags: dict[str, list[str]] = Field(default_factory=dict)

    def tag(self, name: str) -> str | None:
        values = self.tags.get(name) or []
        return values[0] if values and values[0] else None


class SesEvent(_Lenient):
    """An SES event record (the EventBridge detail)."""

    event_type: str = Field(alias="eventType")
    mail: Mail
    bounce: Bounce | None = None
    complaint: Complaint | None = None


class SesEnvelope(_Lenient):
    """The EventBridge envelope of an SES bounce or complaint; the detail is read by the service."""

    id: str
    source: Literal["aws.ses"]
    detail_type: Literal["Email Bounced", "Email Complaint Received"] = Field(alias="detail-type")
    detail: dict[str, Any]


class QueuedSesEvent(QueuedRecord):
    body: Json[SesEnvelope]
