"""Conversations in the members table: messages and one head per member, the outbound reply markers, and each
store's shared inbox of customers nobody is bound to.

Every count moves in the same transaction as the message it counts, under a condition, so LINE redeliveries,
retried sends and concurrent replies count once.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any, cast

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from omo2c.conversations.model import (
    ConversationHead,
    ConversationMessage,
    Direction,
    Kind,
    Status,
    epoch_ms,
    from_epoch_ms,
    reply_seconds,
)
from omo2c.core.dynamo import MembersTableItem, batch_get, configure, plain
from omo2c.core.errors import Conflict, InvalidEvent
from omo2c.core.settings import Settings
from omo2c.staff.storage import StaffKpiItem, kpi_update

CONFLICT_RETRIES = 4
CONDITION_FAILED = "ConditionalCheckFailed"
MESSAGE_SK = re.compile(r"MSG#\d{15}#\S{1,200}")
CURSOR_LIMIT = 200


class ConversationMessageItem(MembersTableItem):
    """pk=CONV#<member_id>, sk=MSG#<epoch ms, 15 digits>#<message_id>: a conversation reads newest first."""

    member_id = UnicodeAttribute()
    message_id = UnicodeAttribute()
    direction = UnicodeAttribute()
    kind = UnicodeAttribute()
    at = NumberAttribute()
    text = UnicodeAttribute(null=True)
    staff_id = UnicodeAttribute(null=True)
    data = MapAttribute(default=dict)
    status = UnicodeAttribute()
    line_message_id = UnicodeAttribute(null=True)
    expires_at = NumberAttribute()


class ReplyMarkerItem(MembersTableItem):
    """pk=CONV#<member_id>, sk=OUT#<message_id>: a reply's id, whatever time a retry carries, names one message."""

    message_sk = UnicodeAttribute()
    expires_at = NumberAttribute()


class ConversationHeadItem(MembersTableItem):
    """pk=CONV#<member_id>, sk=HEAD (times in epoch ms): unread count, who waits since when, last notification."""

    member_id = UnicodeAttribute(null=True)
    unread = NumberAttribute(default=0)
    last_in_at = NumberAttribute(null=True)
    last_out_at = NumberAttribute(null=True)
    awaiting_since = NumberAttribute(null=True)
    notified_at = NumberAttribute(null=True)
    inbox_store_id = UnicodeAttribute(null=True)
    expires_at = NumberAttribute(null=True)


class InboxItem(MembersTableItem):
    """pk=INBOX#<store_id>, sk=MEMBER#<member_id>: a customer with no staff member waiting in the store's inbox,
    until someone answers or reads them."""

    member_id = UnicodeAttribute(null=True)
    store_id = UnicodeAttribute(null=True)
    unread = NumberAttribute(default=0)
    last_in_at = NumberAttribute(null=True)
    expires_at = NumberAttribute(null=True)


MODELS = (ConversationMessageItem, ReplyMarkerItem, ConversationHeadItem, InboxItem, StaffKpiItem)


def conversation_pk(member_id: str) -> str:
    return f"CONV#{member_id}"


def message_sk(message: ConversationMessage) -> str:
    return f"MSG#{epoch_ms(message.at):015d}#{message.message_id}"


def head_key(member_id: str) -> tuple[str, str]:
    return conversation_pk(member_id), "HEAD"


def inbox_key(store_id: str, member_id: str) -> tuple[str, str]:
    return f"INBOX#{store_id}", f"MEMBER#{member_id}"


def _message(item: ConversationMessageItem) -> ConversationMessage:
    return ConversationMessage(item.member_id, item.message_id, cast(Direction, item.direction),
                               cast(Kind, item.kind), from_epoch_ms(item.at), item.text, item.staff_id,
                               plain(item.data) or {}, cast(Status, item.status))


def _time(ms: float | None) -> datetime | None:
    return from_epoch_ms(ms) if ms is not None else None


def _head(item: ConversationHeadItem, member_id: str) -> ConversationHead:
    return ConversationHead(member_id, int(item.unread or 0), _time(item.last_in_at), _time(item.last_out_at),
                            _time(item.awaiting_since), _time(item.notified_at), item.inbox_store_id)


def encode_cursor(sk: str) -> str:
    return base64.urlsafe_b64encode(sk.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    """The sort key a cursor stands for; anything this store did not hand out is refused."""
    refused = InvalidEvent("before is not a cursor this conversation handed out",
                           [{"field": "before", "problem": "invalid cursor"}])
    if not isinstance(cursor, str) or not 0 < len(cursor) <= CURSOR_LIMIT:
        raise refused
    try:
        sk = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise refused from exc
    if not MESSAGE_SK.fullmatch(sk) or encode_cursor(sk) != cursor:
        raise refused
    return sk


def _codes(exc: TransactWriteError) -> list[str | None]:
    return [reason.code if reason else None for reason in (exc.cancellation_reasons or [])]


def _transact(write: Callable[[TransactWrite], None]) -> list[str | None] | None:
    """Commit one transaction, retrying when another one touched the same items at that moment.

    None when it committed; the cancellation codes (one per item, in order) when a condition failed.
    """
    attempt = 0
    while True:
        try:
            with TransactWrite(connection=ConversationHeadItem._get_connection().connection) as tx:
                write(tx)
            return None
        except TransactWriteError as exc:
            codes = _codes(exc)
            if CONDITION_FAILED in codes:
                return codes
            attempt += 1
            if "TransactionConflict" not in codes or attempt == CONFLICT_RETRIES:
                raise Conflict("the conversation changed concurrently") from exc
        time.sleep(0.01 * 2 ** attempt)


def _failed_at(codes: list[str | None], index: int) -> bool:
    return len(codes) > index and codes[index] == CONDITION_FAILED


class ConversationStore:
    def __init__(self, settings: Settings) -> None:
        configure(settings, MODELS)

    # ------------------------------------------------------------------ customer messages
    def record_inbound(self, message: ConversationMessage, inbox_store_id: str | None, expires_at: int) -> bool:
        """Keep a customer message and count it unread (in the store's inbox too, when nobody is bound); False when
        it was kept before (a LINE redelivery)."""
        pk, at = conversation_pk(message.member_id), epoch_ms(message.at)
        head = ConversationHeadItem

        def write(tx: TransactWrite) -> None:
            tx.save(self._item(message, expires_at), condition=ConversationMessageItem.pk.does_not_exist())
            actions: list[Any] = [head.member_id.set(message.member_id), head.unread.add(1),
                                  head.last_in_at.set(at), head.awaiting_since.set(head.awaiting_since | at),
                                  head.expires_at.set(expires_at)]
            if inbox_store_id:
                actions.append(head.inbox_store_id.set(inbox_store_id))
            tx.update(head(pk, "HEAD"), actions=actions)
            if inbox_store_id:
                tx.update(InboxItem(*inbox_key(inbox_store_id, message.member_id)), actions=[
                    InboxItem.member_id.set(message.member_id), InboxItem.store_id.set(inbox_store_id),
                    InboxItem.unread.add(1), InboxItem.last_in_at.set(at), InboxItem.expires_at.set(expires_at)])

        codes = _transact(write)
        if codes is None:
            return True
        if _failed_at(codes, 0):
            return False
        raise Conflict("the conversation changed concurrently")

    def claim_notification(self, member_id: str, now: datetime, minutes: int) -> bool:
        """Take the right to tell the staff member, at most once per ``minutes`` per waiting conversation, however
        many messages arrive at once."""
        at, head = epoch_ms(now), ConversationHeadItem
        try:
            head(*head_key(member_id)).update(
                actions=[head.notified_at.set(at)],
                condition=head.awaiting_since.exists()
                & (head.notified_at.does_not_exist() | (head.notified_at <= at - minutes * 60_000)))
        except UpdateError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # ------------------------------------------------------------------ staff replies
    def begin_outbound(self, message: ConversationMessage, expires_at: int) -> tuple[ConversationMessage, bool]:
        """Record a reply as pending before it is sent. Its id was seen before: the stored reply and False, unless
        that one failed to send, which is taken back to pending for this retry (True: send it)."""
        pk, sk = conversation_pk(message.member_id), message_sk(message)
        head = ConversationHeadItem

        def write(tx: TransactWrite) -> None:
            tx.save(ReplyMarkerItem(pk, f"OUT#{message.message_id}", message_sk=sk, expires_at=expires_at),
                    condition=ReplyMarkerItem.pk.does_not_exist())
            tx.save(self._item(message, expires_at, status="pending"),
                    condition=ConversationMessageItem.pk.does_not_exist())
            tx.update(head(pk, "HEAD"),
                      actions=[head.member_id.set(message.member_id), head.expires_at.set(expires_at)])

        codes = _transact(write)
        if codes is None:
            return replace(message, status="pending"), True
        if not _failed_at(codes, 0):
            raise Conflict("the conversation changed concurrently")
        marker = ReplyMarkerItem.get(pk, f"OUT#{message.message_id}", consistent_read=True)
        stored = ConversationMessageItem.get(pk, marker.message_sk, consistent_read=True)
        if stored.status != "failed":
            return _message(stored), False
        try:
            stored.update(actions=[ConversationMessageItem.status.set("pending")],
                          condition=ConversationMessageItem.status == "failed")
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            return _message(ConversationMessageItem.get(pk, marker.message_sk, consistent_read=True)), False
        return _message(stored), True

    def finish_outbound(self, message: ConversationMessage, status: str,
                        line_message_id: str | None) -> ConversationHead | None:
        """Settle a pending reply. A reply sent answers the conversation: unread and the inbox entry go, and the
        staff member's month counts it (with the customer's wait, when it is the first reply). None when this call
        changed nothing that counts (a failure, or a reply already settled)."""
        if status not in ("sent", "failed"):
            raise ValueError(f"a reply ends sent or failed, not {status}")
        pk, sk = conversation_pk(message.member_id), message_sk(message)
        item = ConversationMessageItem(pk, sk)
        settle: list[Any] = [ConversationMessageItem.status.set(status)]
        if line_message_id:
            settle.append(ConversationMessageItem.line_message_id.set(line_message_id))
        if status == "failed":
            try:
                item.update(actions=settle, condition=ConversationMessageItem.status == "pending")
            except UpdateError as exc:
                if exc.cause_response_code != "ConditionalCheckFailedException":
                    raise
            return None
        for _ in range(CONFLICT_RETRIES):
            before = self.head(message.member_id)
            after = ConversationHead(message.member_id, 0, before.last_in_at if before else None, message.at,
                                     None, before.notified_at if before else None, None)
            codes = _transact(partial(self._answer, item=item, settle=settle, message=message, before=before))
            if codes is None:
                return after
            if _failed_at(codes, 0):
                return None
        raise Conflict("the conversation kept changing while the reply was recorded")

    def _answer(self, tx: TransactWrite, item: ConversationMessageItem, settle: list[Any],
                message: ConversationMessage, before: ConversationHead | None) -> None:
        head = ConversationHeadItem
        tx.update(item, actions=settle, condition=ConversationMessageItem.status == "pending")
        awaiting = before.awaiting_since if before else None
        store_id = before.inbox_store_id if before else None
        unchanged = ((head.awaiting_since == epoch_ms(awaiting)) if awaiting else head.awaiting_since.does_not_exist())
        unchanged &= (head.inbox_store_id == store_id) if store_id else head.inbox_store_id.does_not_exist()
        tx.update(head(*head_key(message.member_id)), condition=unchanged, actions=[
            head.member_id.set(message.member_id), head.last_out_at.set(epoch_ms(message.at)), head.unread.set(0),
            head.awaiting_since.remove(), head.inbox_store_id.remove()])
        if store_id:
            tx.delete(InboxItem(*inbox_key(store_id, message.member_id)))
        if message.staff_id:
            kpi, actions = kpi_update(message.staff_id, message.at, {"messages_answered": 1},
                                      reply_seconds=reply_seconds(before, message.at))
            tx.update(kpi, actions=actions)

    # ------------------------------------------------------------------ reads
    def messages(self, member_id: str, limit: int = 30,
                 before: str | None = None) -> tuple[list[ConversationMessage], str | None]:
        """A page of the conversation, newest first, and the cursor of the next (older) page, if any."""
        pk = conversation_pk(member_id)
        start = {"pk": {"S": pk}, "sk": {"S": decode_cursor(before)}} if before is not None else None
        items = list(ConversationMessageItem.query(
            pk, ConversationMessageItem.sk.startswith("MSG#"), scan_index_forward=False, limit=limit + 1,
            page_size=limit + 1, last_evaluated_key=start))
        page = items[:limit]
        cursor = encode_cursor(page[-1].sk) if len(items) > limit else None
        return [_message(i) for i in page], cursor

    def head(self, member_id: str) -> ConversationHead | None:
        try:
            return _head(ConversationHeadItem.get(*head_key(member_id), consistent_read=True), member_id)
        except ConversationHeadItem.DoesNotExist:
            return None

    def heads(self, member_ids: list[str]) -> dict[str, ConversationHead]:
        if not member_ids:
            return {}
        found = batch_get(ConversationHeadItem, [head_key(m) for m in member_ids])
        return {m: _head(ConversationHeadItem.from_raw_data(found[head_key(m)]), m)
                for m in member_ids if head_key(m) in found}

    def mark_read(self, member_id: str) -> ConversationHead | None:
        """Staff have read the conversation: nothing unread, off the store's inbox (the customer still waits for an
        answer)."""
        head = ConversationHeadItem
        for _ in range(CONFLICT_RETRIES):
            before = self.head(member_id)
            if before is None:
                return None
            store_id = before.inbox_store_id

            def write(tx: TransactWrite, store_id: str | None = store_id) -> None:
                unchanged = (head.inbox_store_id == store_id) if store_id else head.inbox_store_id.does_not_exist()
                tx.update(head(*head_key(member_id)), actions=[head.unread.set(0), head.inbox_store_id.remove()],
                          condition=head.pk.exists() & unchanged)
                if store_id:
                    tx.delete(InboxItem(*inbox_key(store_id, member_id)))

            if _transact(write) is None:
                return ConversationHead(member_id, 0, before.last_in_at, before.last_out_at, before.awaiting_since,
                                        before.notified_at, None)
        raise Conflict("the conversation kept changing while it was marked read")

    def inbox(self, store_id: str, limit: int = 100) -> list[ConversationHead]:
        """The store's customers waiting with no staff member, latest message first."""
        items = InboxItem.query(f"INBOX#{store_id}", InboxItem.sk.startswith("MEMBER#"), limit=limit,
                                page_size=limit)
        heads = [ConversationHead(item.member_id or item.sk.removeprefix("MEMBER#"), int(item.unread or 0),
                                  _time(item.last_in_at), inbox_store_id=store_id) for item in items]
        return sorted(heads, key=lambda h: h.last_in_at.timestamp() if h.last_in_at else 0, reverse=True)

    # ------------------------------------------------------------------ items
    @staticmethod
    def _item(message: ConversationMessage, expires_at: int, status: str | None = None) -> ConversationMessageItem:
        return ConversationMessageItem(
            conversation_pk(message.member_id), message_sk(message), member_id=message.member_id,
            message_id=message.message_id, direction=message.direction, kind=message.kind, at=epoch_ms(message.at),
            text=message.text, staff_id=message.staff_id, data=dict(message.data), status=status or message.status,
            expires_at=expires_at)
