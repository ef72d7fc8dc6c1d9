"""Conversations against moto: LINE redeliveries and retried replies count once, notifications are claimed once
per window, pages run newest first, and a reply reaches the staff member's month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from omo2c.conversations.model import epoch_ms
from omo2c.conversations.service import Conversations
from omo2c.conversations.storage import ConversationStore, encode_cursor
from omo2c.core.errors import InvalidEvent
from omo2c.core.settings import Settings
from omo2c.staff.storage import StaffKpis

T0 = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def settings(aws) -> Settings:
    return Settings.from_env()


@pytest.fixture
def conversations(settings, clock) -> Conversations:
    return Conversations(ConversationStore(settings), settings.conversation_retention_days,
                         settings.staff_notify_minutes, clock)


def text(message_id: str, at: datetime, body: str = "請問還有貨嗎") -> dict:
    return {"type": "message", "timestamp": epoch_ms(at), "webhookEventId": f"W{message_id}",
            "source": {"type": "user", "userId": "U" + "b" * 32}, "replyToken": "r",
            "message": {"id": message_id, "type": "text", "text": body}}


def item(aws, pk: str, sk: str) -> dict | None:
    return aws["dynamodb"].get_item(TableName=Settings.from_env().members_table,
                                    Key={"pk": {"S": pk}, "sk": {"S": sk}}).get("Item")


def test_a_line_redelivery_is_stored_once_and_counted_unread_once(conversations, clock):
    first = conversations.receive(text("m1", clock()), "M1", None)
    again = conversations.receive(text("m1", clock()), "M1", None)
    assert (first.stored, again.stored, again.notify) == (True, False, False)
    messages, _ = conversations.messages("M1")
    assert [m.message_id for m in messages] == ["m1"]
    head = conversations.head("M1")
    assert (head.unread, head.last_in_at, head.awaiting_since) == (1, T0, T0)


def test_every_message_expires_after_the_retention(aws, conversations, clock, settings):
    conversations.receive(text("m1", clock()), "M1", None)
    reply, _ = conversations.begin_reply("M1", "S001", "r-1", "text", "有的", None)
    expected = int((T0 + timedelta(days=settings.conversation_retention_days)).timestamp())
    stored = item(aws, "CONV#M1", f"MSG#{epoch_ms(T0):015d}#m1")
    assert int(stored["expires_at"]["N"]) == expected
    assert int(item(aws, "CONV#M1", f"MSG#{epoch_ms(reply.at):015d}#r-1")["expires_at"]["N"]) == expected
    assert int(item(aws, "CONV#M1", "HEAD")["expires_at"]["N"]) == expected


def test_the_staff_member_is_told_once_within_the_window_and_again_after(conversations, clock):
    assert conversations.receive(text("m1", clock()), "M1", None).notify
    assert not conversations.receive(text("m2", clock.advance(minutes=3)), "M1", None).notify
    assert not conversations.receive(text("m3", clock.advance(minutes=6, seconds=59)), "M1", None).notify
    assert conversations.receive(text("m4", clock.advance(minutes=1)), "M1", None).notify
    assert conversations.head("M1").unread == 4


def test_concurrent_claims_within_the_window_tell_the_staff_member_once(conversations, settings, clock):
    conversations.receive(text("m1", clock()), "M2", None)
    store = ConversationStore(settings)
    later = clock.advance(minutes=11)
    assert [store.claim_notification("M2", later, 10) for _ in range(3)] == [True, False, False]


def test_pages_run_newest_first_and_a_cursor_continues_older(conversations, clock):
    for n in range(7):
        conversations.receive(text(f"m{n}", T0 + timedelta(seconds=n)), "M1", None)
    first, cursor = conversations.messages("M1", limit=3)
    second, cursor2 = conversations.messages("M1", limit=3, before=cursor)
    last, end = conversations.messages("M1", limit=3, before=cursor2)
    assert [m.message_id for m in first + second + last] == [f"m{n}" for n in range(6, -1, -1)]
    assert end is None and len(last) == 1
    assert conversations.messages("M1", limit=7) == (first + second + last, None)


@pytest.mark.parametrize("cursor", ["junk!", "", "bm90IGEgY3Vyc29y", encode_cursor("HEAD"),
                                    encode_cursor("MSG#12#x"), "A" * 500])
def test_a_cursor_this_store_did_not_hand_out_is_422_naming_before(conversations, cursor):
    with pytest.raises(InvalidEvent) as refused:
        conversations.messages("M1", before=cursor)
    assert refused.value.status == 422 and refused.value.details[0]["field"] == "before"


def test_a_retried_reply_with_the_same_id_is_recorded_once(conversations, clock):
    conversations.receive(text("m1", clock()), "M1", None)
    clock.advance(minutes=2)
    reply, created = conversations.begin_reply("M1", "S001", "r-1", "text", "有的", None)
    clock.advance(seconds=5)
    retried, again = conversations.begin_reply("M1", "S001", "r-1", "text", "有的", None)
    assert (created, again) == (True, False)
    assert retried == reply and retried.status == "pending"
    messages, _ = conversations.messages("M1")
    assert [(m.message_id, m.direction, m.status) for m in messages] == [("r-1", "out", "pending"),
                                                                         ("m1", "in", "received")]


def test_a_failed_reply_is_handed_back_once_for_a_retry(conversations, clock):
    reply, _ = conversations.begin_reply("M1", "S001", "r-1", "text", "有的", None)
    assert conversations.finish_reply(reply, sent=False) is None
    retry, created = conversations.begin_reply("M1", "S001", "r-1", "text", "有的", None)
    assert created and retry.status == "pending" and retry.at == reply.at
    assert conversations.begin_reply("M1", "S001", "r-1", "text", "有的", None)[1] is False
    assert conversations.finish_reply(retry, sent=True, line_message_id="L1") is not None


def test_a_reply_answers_once_and_its_wait_reaches_the_staff_month(conversations, settings, clock):
    conversations.receive(text("m1", clock()), "M1", None)
    conversations.receive(text("m2", clock.advance(minutes=1)), "M1", None)
    clock.advance(minutes=3, seconds=20)
    reply, _ = conversations.begin_reply("M1", "S001", "r-1", "text", "有的", None)
    head = conversations.finish_reply(reply, sent=True, line_message_id="L1")
    assert (head.unread, head.awaiting_since, head.last_out_at) == (0, None, reply.at)
    assert conversations.finish_reply(reply, sent=True, line_message_id="L1") is None
    assert conversations.finish_reply(reply, sent=False) is None
    clock.advance(minutes=1)
    follow_up, _ = conversations.begin_reply("M1", "S001", "r-2", "sticker", None,
                                             {"package_id": "446", "sticker_id": "1988"})
    conversations.finish_reply(follow_up, sent=True, line_message_id="L2")
    month = StaffKpis(settings).month("S001", "2026-11")
    assert month["messages_answered"] == 2
    assert month["reply_seconds"] == [260]
    stored = {m.message_id: m for m in conversations.messages("M1")[0]}
    assert stored["r-1"].status == "sent" and stored["r-2"].view()["sticker"] == {"package_id": "446",
                                                                                  "sticker_id": "1988"}
    assert conversations.head("M1").awaiting_since is None


def test_the_store_inbox_lists_unbound_customers_until_someone_answers(conversations, clock):
    conversations.receive(text("a1", clock()), "MA", "ST01")
    conversations.receive(text("a2", clock.advance(minutes=1)), "MA", "ST01")
    conversations.receive(text("b1", clock.advance(minutes=1)), "MB", "ST01")
    conversations.receive(text("c1", clock()), "MC", "ST02")
    conversations.receive(text("a2", T0 + timedelta(minutes=1)), "MA", "ST01")
    inbox = conversations.inbox("ST01")
    assert [(h.member_id, h.unread) for h in inbox] == [("MB", 1), ("MA", 2)]
    assert conversations.head("MA").inbox_store_id == "ST01"
    reply, _ = conversations.begin_reply("MA", "S009", "r-1", "text", "您好", None)
    conversations.finish_reply(reply, sent=True, line_message_id="L1")
    assert [h.member_id for h in conversations.inbox("ST01")] == ["MB"]
    assert conversations.head("MA").inbox_store_id is None
    read = conversations.mark_read("MB")
    assert read.unread == 0 and read.awaiting_since is not None
    assert conversations.inbox("ST01") == [] and [h.member_id for h in conversations.inbox("ST02")] == ["MC"]
    assert conversations.head("MB").unread == 0


def test_heads_of_many_members_come_in_one_read(conversations, clock):
    conversations.receive(text("m1", clock()), "M1", None)
    conversations.receive(text("m2", clock.advance(seconds=30)), "M2", None)
    heads = conversations.heads(["M1", "M2", "M-none"])
    assert set(heads) == {"M1", "M2"} and heads["M2"].last_message_at == T0 + timedelta(seconds=30)
    assert conversations.heads([]) == {}
    assert conversations.head("M-none") is None and conversations.mark_read("M-none") is None


def test_two_replies_read_the_same_wait_but_only_one_is_the_first_reply(conversations, settings, clock):
    conversations.receive(text("m1", clock()), "M1", None)
    clock.advance(seconds=90)
    first, _ = conversations.begin_reply("M1", "S001", "r-1", "text", "有的", None)
    second, _ = conversations.begin_reply("M1", "S002", "r-2", "text", "我來回", None)
    store = conversations.store
    read_before_the_first_reply = store.head("M1")
    conversations.finish_reply(first, sent=True, line_message_id="L1")
    reads = iter([read_before_the_first_reply])
    fresh = store.head
    store.head = lambda member_id: next(reads, None) or fresh(member_id)
    assert conversations.finish_reply(second, sent=True, line_message_id="L2").awaiting_since is None
    months = [StaffKpis(settings).month(staff, "2026-11") for staff in ("S001", "S002")]
    assert [(m["messages_answered"], m["reply_seconds"]) for m in months] == [(1, [90]), (1, [])]
