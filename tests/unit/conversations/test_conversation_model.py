"""What a conversation keeps of each LINE message, and the pure rules of notifications and reply times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from omo2c.conversations.model import (
    ConversationHead,
    ConversationMessage,
    inbound_from_line,
    reply,
    reply_seconds,
    should_notify,
)
from omo2c.conversations.service import Conversations
from omo2c.core.errors import InvalidEvent

AT_MS = 1_795_000_000_123
AT = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=AT_MS)
NOW = datetime(2026, 11, 22, 6, 0, tzinfo=UTC)


def line_event(message: dict, **extra) -> dict:
    return {"type": "message", "timestamp": AT_MS, "webhookEventId": "01HWEBHOOK", "mode": "active",
            "source": {"type": "user", "userId": "U" + "a" * 32}, "replyToken": "r", "message": message, **extra}


def test_a_text_message_keeps_line_s_id_time_and_text():
    message = inbound_from_line(line_event({"id": "5001", "type": "text", "text": "還有貨嗎?"}), "M1")
    assert message == ConversationMessage("M1", "5001", "in", "text", AT, "還有貨嗎?", None, {}, "received")
    assert message.at.tzinfo is not None and message.at.microsecond == 123_000
    assert message.view() == {"message_id": "5001", "direction": "in", "kind": "text", "text": "還有貨嗎?",
                              "staff_id": None, "at": AT.isoformat(), "status": "received"}


def test_a_sticker_keeps_its_package_and_sticker_ids():
    message = inbound_from_line(line_event({"id": "5002", "type": "sticker", "packageId": "446",
                                            "stickerId": "1988", "stickerResourceType": "STATIC"}), "M1")
    assert message.kind == "sticker" and message.text is None
    assert message.view()["sticker"] == {"package_id": "446", "sticker_id": "1988"}


def test_an_image_keeps_only_line_s_message_id_and_provider_never_content():
    message = inbound_from_line(line_event({"id": "5003", "type": "image", "contentProvider": {"type": "line"},
                                            "imageSet": {"id": "s", "index": 1, "total": 2}}), "M1")
    assert message.view()["image"] == {"line_message_id": "5003", "content_provider": "line"}
    external = inbound_from_line(line_event({"id": "5004", "type": "image", "contentProvider": {
        "type": "external", "originalContentUrl": "https://cdn.example/x.jpg"}}), "M1")
    assert external.data == {"line_message_id": "5004", "content_provider": "external"}


def test_a_location_keeps_title_address_and_coordinates():
    event = line_event({"id": "5005", "type": "location", "title": "信義店", "address": "台北市信義區",
                        "latitude": 25.033, "longitude": 121.5654})
    message = inbound_from_line(event, "M1")
    assert message.view()["location"] == {"title": "信義店", "address": "台北市信義區", "latitude": 25.033,
                                          "longitude": 121.5654}


def test_without_a_message_id_the_webhook_event_id_names_the_message():
    assert inbound_from_line(line_event({"type": "text", "text": "hi"}), "M1").message_id == "01HWEBHOOK"


@pytest.mark.parametrize("event", [
    line_event({"id": "6001", "type": "video", "duration": 1000, "contentProvider": {"type": "line"}}),
    line_event({"id": "6002", "type": "audio", "duration": 1000}),
    line_event({"id": "6003", "type": "file", "fileName": "a.pdf", "fileSize": 10}),
    line_event({"id": "6004", "type": "something-new"}),
    {"type": "follow", "timestamp": AT_MS, "webhookEventId": "01F"},
    {"type": "postback", "timestamp": AT_MS, "postback": {"data": "x"}},
    line_event({"id": "6005", "type": "text"}),
    {"type": "message", "webhookEventId": "01N", "message": {"id": "6006", "type": "text", "text": "no time"}},
    {"type": "message", "timestamp": AT_MS, "message": {"type": "text", "text": "no id"}},
], ids=["video", "audio", "file", "unknown", "follow", "postback", "text-without-text", "no-timestamp", "no-id"])
def test_what_a_staff_console_cannot_show_is_not_kept(event):
    assert inbound_from_line(event, "M1") is None


def test_a_reply_is_pending_with_the_caller_s_id_and_only_the_fields_of_its_kind():
    message = reply("M1", "S001", "r-1", "product", "這款適合您", {
        "url": "https://shop.example/p/1", "title": "熟成紅茶", "price": 690, "short_url": "https://s.example/a",
        "image_url": None, "secret": "dropped"}, NOW)
    assert (message.direction, message.status, message.staff_id, message.at) == ("out", "pending", "S001", NOW)
    assert message.view()["product"] == {"url": "https://shop.example/p/1", "title": "熟成紅茶", "price": 690,
                                         "short_url": "https://s.example/a"}


@pytest.mark.parametrize(("kind", "text", "data", "field"), [
    ("text", "  ", None, "text"),
    ("text", "x" * 5001, None, "text"),
    ("video", "hi", None, "kind"),
    ("product", None, {"title": "no url"}, "data.url"),
    ("sticker", None, {"package_id": "1"}, "data.sticker_id"),
    ("text", "hi", ["not", "an", "object"], "data"),
    ("product", None, {"url": {"nested": "x"}}, "data.url"),
])
def test_a_reply_that_cannot_be_sent_is_refused_naming_the_field(kind, text, data, field):
    with pytest.raises(InvalidEvent) as refused:
        reply("M1", "S001", "r-1", kind, text, data, NOW)
    assert refused.value.status == 422
    assert field in [d["field"] for d in refused.value.details]


@pytest.mark.parametrize("message_id", ["", "has space", "x" * 101, "#hash", None])
def test_a_reply_id_must_be_safe_to_key_by(message_id):
    with pytest.raises(InvalidEvent):
        reply("M1", "S001", message_id, "text", "hi", None, NOW)


def test_staff_are_told_once_per_window_and_only_while_a_customer_waits():
    waiting = ConversationHead("M1", 1, NOW, None, NOW, None)
    assert should_notify(waiting, NOW, 10)
    told = ConversationHead("M1", 2, NOW, None, NOW, NOW)
    assert not should_notify(told, NOW + timedelta(minutes=9, seconds=59), 10)
    assert should_notify(told, NOW + timedelta(minutes=10), 10)
    assert not should_notify(ConversationHead("M1", 0, NOW, NOW, None, None), NOW, 10)
    assert not should_notify(None, NOW, 10)


def test_reply_seconds_count_from_the_first_unanswered_message():
    head = ConversationHead("M1", 3, NOW + timedelta(minutes=5), None, NOW)
    assert reply_seconds(head, NOW + timedelta(minutes=7, seconds=30)) == 450
    assert reply_seconds(head, NOW - timedelta(seconds=3)) == 0
    assert reply_seconds(ConversationHead("M1", 0, NOW, NOW, None), NOW) is None
    assert reply_seconds(None, NOW) is None


def test_the_head_view_is_json_ready_and_knows_the_last_message():
    head = ConversationHead("M1", 2, NOW, NOW + timedelta(minutes=1), None, None, "ST01")
    assert head.last_message_at == NOW + timedelta(minutes=1)
    assert head.view() == {"member_id": "M1", "unread": 2, "last_in_at": NOW.isoformat(),
                           "last_out_at": (NOW + timedelta(minutes=1)).isoformat(), "awaiting_since": None,
                           "notified_at": None, "inbox_store_id": "ST01",
                           "last_message_at": (NOW + timedelta(minutes=1)).isoformat()}
    assert ConversationHead("M2").last_message_at is None


class RecordingStore:
    def __init__(self, new: bool = True, claim: bool = True) -> None:
        self.new, self.claim, self.calls = new, claim, []

    def record_inbound(self, message, inbox_store_id, expires_at):
        self.calls.append(("record", message.message_id, inbox_store_id, expires_at))
        return self.new

    def claim_notification(self, member_id, now, minutes):
        self.calls.append(("claim", member_id, now, minutes))
        return self.claim

    def begin_outbound(self, message, expires_at):
        self.calls.append(("begin", message.message_id, expires_at))
        return message, True


def test_receive_keeps_the_message_for_the_retention_and_claims_a_notification_only_when_new():
    store = RecordingStore()
    outcome = Conversations(store, 365, 10, lambda: NOW).receive(line_event({"id": "1", "type": "text", "text": "hi"}),
                                                                 "M1", "ST01")
    assert (outcome.stored, outcome.notify, outcome.message.message_id) == (True, True, "1")
    assert store.calls == [("record", "1", "ST01", int((AT + timedelta(days=365)).timestamp())),
                           ("claim", "M1", NOW, 10)]
    again = RecordingStore(new=False)
    outcome = Conversations(again, 365, 10, lambda: NOW).receive(line_event({"id": "1", "type": "text", "text": "hi"}),
                                                                 "M1", None)
    assert (outcome.stored, outcome.notify) == (False, False) and [c[0] for c in again.calls] == ["record"]
    ignored = RecordingStore()
    assert Conversations(ignored, 365, 10, lambda: NOW).receive(line_event({"id": "2", "type": "video"}), "M1",
                                                                None).message is None
    assert ignored.calls == []


def test_a_reply_expires_with_the_retention_too():
    store = RecordingStore()
    message, created = Conversations(store, 30, 10, lambda: NOW).begin_reply("M1", "S001", "r-1", "text", "hi", None)
    assert created and message.at == NOW
    assert store.calls == [("begin", "r-1", int((NOW + timedelta(days=30)).timestamp()))]


@pytest.mark.parametrize("limit", [0, 101, True])
def test_a_page_size_out_of_range_is_refused(limit):
    with pytest.raises(InvalidEvent):
        Conversations(RecordingStore(), 365, 10, lambda: NOW).messages("M1", limit=limit)
