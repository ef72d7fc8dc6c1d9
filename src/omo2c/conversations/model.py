"""A member's conversation with the brand: customer messages from LINE, staff replies, and the head that
says who is waiting for an answer. Plain Python; the store keeps it in the members table.

What a message carries besides text (``data``) is small and never content itself: a sticker's ids, the LINE
message id of an image (its bytes stay with LINE and are fetched on demand), a location's coordinates, a
product link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, cast

from omo2c.core.errors import InvalidEvent

Direction = Literal["in", "out"]
Kind = Literal["text", "sticker", "image", "location", "product"]
Status = Literal["received", "pending", "sent", "failed"]

KINDS: tuple[str, ...] = ("text", "sticker", "image", "location", "product")
DATA_FIELDS: dict[str, tuple[str, ...]] = {
    "text": (),
    "sticker": ("package_id", "sticker_id"),
    "image": ("line_message_id", "content_provider", "url", "preview_url"),
    "location": ("title", "address", "latitude", "longitude"),
    "product": ("url", "title", "image_url", "price", "short_url"),
}
REPLY_REQUIRES: dict[str, tuple[str, ...]] = {
    "text": (),
    "sticker": ("package_id", "sticker_id"),
    "image": ("url",),
    "location": ("latitude", "longitude"),
    "product": ("url",),
}
TEXT_LIMIT = 5000
MESSAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,99}")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_ms(at: datetime) -> int:
    return (at - EPOCH) // timedelta(milliseconds=1)


def from_epoch_ms(ms: int | float) -> datetime:
    return EPOCH + timedelta(milliseconds=int(ms))


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


@dataclass(frozen=True)
class ConversationMessage:
    member_id: str
    message_id: str
    direction: Direction
    kind: Kind
    at: datetime
    text: str | None = None
    staff_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    status: Status = "received"

    def view(self) -> dict[str, Any]:
        view: dict[str, Any] = {"message_id": self.message_id, "direction": self.direction, "kind": self.kind,
                                "text": self.text, "staff_id": self.staff_id, "at": self.at.isoformat(),
                                "status": self.status}
        if self.data and self.kind != "text":
            view[self.kind] = dict(self.data)
        return view


@dataclass(frozen=True)
class ConversationHead:
    """One per member: what the staff console lists, and what decides notifications and first-reply times."""

    member_id: str
    unread: int = 0
    last_in_at: datetime | None = None
    last_out_at: datetime | None = None
    awaiting_since: datetime | None = None
    notified_at: datetime | None = None
    inbox_store_id: str | None = None

    @property
    def last_message_at(self) -> datetime | None:
        times = [at for at in (self.last_in_at, self.last_out_at) if at is not None]
        return max(times) if times else None

    def view(self) -> dict[str, Any]:
        return {"member_id": self.member_id, "unread": self.unread, "last_in_at": _iso(self.last_in_at),
                "last_out_at": _iso(self.last_out_at), "awaiting_since": _iso(self.awaiting_since),
                "notified_at": _iso(self.notified_at), "inbox_store_id": self.inbox_store_id,
                "last_message_at": _iso(self.last_message_at)}


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def inbound_from_line(event: dict[str, Any], member_id: str) -> ConversationMessage | None:
    """The customer message a LINE message event carries; None for events and message types a staff console
    cannot show (video, audio, file, unknown ones): those are not kept rather than kept as empty bubbles."""
    if event.get("type") != "message":
        return None
    message = event.get("message")
    if not isinstance(message, dict):
        return None
    message_id = message.get("id") or event.get("webhookEventId")
    timestamp = event.get("timestamp")
    if not message_id or isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        return None
    kind = message.get("type")
    text: str | None = None
    data: dict[str, Any] = {}
    if kind == "text":
        text = message.get("text")
        if not isinstance(text, str):
            return None
    elif kind == "sticker":
        data = _present({"package_id": message.get("packageId"), "sticker_id": message.get("stickerId")})
    elif kind == "image":
        provider = message.get("contentProvider")
        data = _present({"line_message_id": str(message_id),
                         "content_provider": provider.get("type", "line") if isinstance(provider, dict) else "line"})
    elif kind == "location":
        data = _present({name: message.get(name) for name in DATA_FIELDS["location"]})
    else:
        return None
    return ConversationMessage(member_id, str(message_id), "in", cast(Kind, kind), from_epoch_ms(timestamp), text,
                               None, data)


def _reply_data(kind: str, data: dict[str, Any] | None) -> dict[str, Any]:
    if data is not None and not isinstance(data, dict):
        raise InvalidEvent("data must be an object", [{"field": "data", "problem": "expected an object"}])
    kept: dict[str, Any] = {}
    for name in DATA_FIELDS[kind]:
        value = (data or {}).get(name)
        if value is None:
            continue
        if isinstance(value, Decimal):
            value = str(value)
        if not isinstance(value, str | int | float | bool):
            raise InvalidEvent(f"data.{name} must be a plain value",
                               [{"field": f"data.{name}", "problem": "expected a string or a number"}])
        kept[name] = value
    missing = [name for name in REPLY_REQUIRES[kind] if name not in kept]
    if missing:
        raise InvalidEvent(f"a {kind} reply needs {', '.join(missing)}",
                           [{"field": f"data.{name}", "problem": "required"} for name in missing])
    return kept


def reply(member_id: str, staff_id: str, message_id: str, kind: str, text: str | None,
          data: dict[str, Any] | None, at: datetime) -> ConversationMessage:
    """A staff reply as it is recorded before it is sent: the message id is the caller's, so a retried send
    names the same reply."""
    if not isinstance(message_id, str) or not MESSAGE_ID.fullmatch(message_id):
        raise InvalidEvent("message_id must be 1-100 letters, digits or ._:-",
                           [{"field": "message_id", "problem": "invalid"}])
    if kind not in KINDS:
        raise InvalidEvent(f"kind must be one of {', '.join(KINDS)}", [{"field": "kind", "problem": "unknown"}])
    if text is not None and (not isinstance(text, str) or len(text) > TEXT_LIMIT):
        raise InvalidEvent(f"text must be a string of at most {TEXT_LIMIT} characters",
                           [{"field": "text", "problem": "invalid"}])
    if kind == "text" and not (text or "").strip():
        raise InvalidEvent("a text reply needs text", [{"field": "text", "problem": "required"}])
    return ConversationMessage(member_id, message_id, "out", cast(Kind, kind), at, text or None, staff_id,
                               _reply_data(kind, data), "pending")


def should_notify(head: ConversationHead | None, now: datetime, minutes: int) -> bool:
    """A customer is waiting and their staff member has not been told in the last ``minutes``."""
    if head is None or head.awaiting_since is None:
        return False
    return head.notified_at is None or now - head.notified_at >= timedelta(minutes=minutes)


def reply_seconds(head: ConversationHead | None, now: datetime) -> int | None:
    """How long the customer waited for this answer; None when nobody was waiting (not a first reply)."""
    if head is None or head.awaiting_since is None:
        return None
    return max(0, int((now - head.awaiting_since).total_seconds()))
