"""The LINE webhook body as LINE documents it, checked before any event is handled.

A delivery carries several events; one malformed event (a ``source`` that is not an object, a
``message`` of the wrong type, a timestamp no clock has) is refused alone, and the others are
handled as usual.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from omo2c.channels.line import LINE_TEXT_LIMIT
from omo2c.core.errors import MalformedBody, validation_details
from omo2c.core.jsonbody import json_object
from omo2c.identity.identifiers import LINE_USER_ID

MAX_EVENTS = 100


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow")


class Source(_Part):
    type: str = "user"
    userId: str | None = Field(default=None, pattern=LINE_USER_ID)


class Message(_Part):
    type: str
    text: str | None = Field(default=None, max_length=LINE_TEXT_LIMIT)


class Postback(_Part):
    data: str = Field(default="", max_length=300)


class LineEvent(_Part):
    type: str = Field(max_length=64)
    webhookEventId: str = Field(min_length=1, max_length=64)
    timestamp: int = Field(ge=0, le=10**14)
    source: Source | None = None
    replyToken: str | None = Field(default=None, max_length=256)
    message: Message | None = None
    postback: Postback | None = None


class Delivery(_Part):
    events: list[Any] = Field(default_factory=list, max_length=MAX_EVENTS)


def parse_delivery(body: str) -> list[dict[str, Any] | str]:
    """Each event as a plain dict ready to handle, or the text saying why it was refused."""
    try:
        delivery = Delivery.model_validate(json_object(body, "a LINE webhook payload"))
    except ValidationError as exc:
        raise MalformedBody("events must be a list of at most 100 events", validation_details(exc)) from exc
    out: list[dict[str, Any] | str] = []
    for raw in delivery.events:
        try:
            out.append(LineEvent.model_validate(raw).model_dump(exclude_none=True))
        except ValidationError as exc:
            fields = sorted({str(d["field"]) or "event" for d in validation_details(exc)})
            out.append(f"refused: malformed event ({', '.join(fields)})")
    return out
