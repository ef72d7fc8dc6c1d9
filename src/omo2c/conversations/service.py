"""The conversation between a member and the staff member bound to them (or their store's shared inbox):
what the LINE webhook keeps of a customer message, and what the staff console reads and answers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from omo2c.conversations.model import ConversationHead, ConversationMessage, inbound_from_line, reply
from omo2c.core.errors import InvalidEvent

PAGE_LIMIT = 100
INBOX_LIMIT = 500


class ConversationStorePort(Protocol):
    def record_inbound(self, message: ConversationMessage, inbox_store_id: str | None, expires_at: int) -> bool: ...
    def claim_notification(self, member_id: str, now: datetime, minutes: int) -> bool: ...
    def begin_outbound(self, message: ConversationMessage, expires_at: int) -> tuple[ConversationMessage, bool]: ...
    def finish_outbound(self, message: ConversationMessage, status: str,
                        line_message_id: str | None) -> ConversationHead | None: ...
    def messages(self, member_id: str, limit: int = 30,
                 before: str | None = None) -> tuple[list[ConversationMessage], str | None]: ...
    def heads(self, member_ids: list[str]) -> dict[str, ConversationHead]: ...
    def head(self, member_id: str) -> ConversationHead | None: ...
    def mark_read(self, member_id: str) -> ConversationHead | None: ...
    def inbox(self, store_id: str, limit: int = 100) -> list[ConversationHead]: ...


@dataclass(frozen=True)
class ReceiveOutcome:
    """``stored``: the message is new (False for a redelivery or a message type not kept); ``notify``: this call
    won the right to tell the staff member (or the store) that a customer is waiting."""

    stored: bool
    notify: bool
    message: ConversationMessage | None


class Conversations:
    def __init__(self, store: ConversationStorePort, retention_days: int, notify_minutes: int,
                 clock: Callable[[], datetime]) -> None:
        self.store = store
        self.retention = timedelta(days=retention_days)
        self.notify_minutes = notify_minutes
        self.clock = clock

    def _expires_at(self, at: datetime) -> int:
        return int((at + self.retention).timestamp())

    def receive(self, event: dict[str, Any], member_id: str, inbox_store_id: str | None) -> ReceiveOutcome:
        """Keep a customer's LINE message; ``inbox_store_id`` when no staff member is bound, so the store's shared
        inbox lists the customer."""
        message = inbound_from_line(event, member_id)
        if message is None:
            return ReceiveOutcome(False, False, None)
        stored = self.store.record_inbound(message, inbox_store_id, self._expires_at(message.at))
        notify = stored and self.store.claim_notification(member_id, self.clock(), self.notify_minutes)
        return ReceiveOutcome(stored, notify, message)

    def begin_reply(self, member_id: str, staff_id: str, message_id: str, kind: str, text: str | None,
                    data: dict[str, Any] | None = None) -> tuple[ConversationMessage, bool]:
        """Record a staff reply before sending it. False: this message id is already recorded (a retry) and must
        not be sent again; the stored reply says where it stands. A reply that failed before is handed back
        (True) to be sent again."""
        message = reply(member_id, staff_id, message_id, kind, text, data, self.clock())
        return self.store.begin_outbound(message, self._expires_at(message.at))

    def finish_reply(self, message: ConversationMessage, sent: bool,
                     line_message_id: str | None = None) -> ConversationHead | None:
        """The head after a reply that answered the conversation; None when the send failed or was settled
        before."""
        return self.store.finish_outbound(message, "sent" if sent else "failed", line_message_id)

    def messages(self, member_id: str, limit: int = 30,
                 before: str | None = None) -> tuple[list[ConversationMessage], str | None]:
        _check_limit(limit, PAGE_LIMIT)
        return self.store.messages(member_id, limit, before)

    def heads(self, member_ids: list[str]) -> dict[str, ConversationHead]:
        return self.store.heads(member_ids)

    def head(self, member_id: str) -> ConversationHead | None:
        return self.store.head(member_id)

    def mark_read(self, member_id: str) -> ConversationHead | None:
        return self.store.mark_read(member_id)

    def inbox(self, store_id: str, limit: int = 100) -> list[ConversationHead]:
        _check_limit(limit, INBOX_LIMIT)
        return self.store.inbox(store_id, limit)


def _check_limit(limit: int, most: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= most:
        raise InvalidEvent(f"limit must be between 1 and {most}", [{"field": "limit", "problem": "out of range"}])
