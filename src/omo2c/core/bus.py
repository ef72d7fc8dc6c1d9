"""Outbound plumbing: the ingest queue and the EventBridge bus, behind small adapters."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from omo2c.core.aws import client
from omo2c.core.settings import Settings
from omo2c.sources.canonical import CanonicalEvent

PUT_EVENTS_BATCH = 10
SEND_BATCH = 10


class PublishFailed(RuntimeError):
    """EventBridge refused some entries; the caller's message will be retried."""


class EventQueue:
    """Ingest queue: one SQS message per canonical event."""

    def __init__(self, queue_url: str, sqs: Any | None = None) -> None:
        self.queue_url = queue_url
        self._sqs = sqs

    @property
    def sqs(self) -> Any:
        return self._sqs or client("sqs")

    def send(self, events: list[CanonicalEvent]) -> None:
        for start in range(0, len(events), SEND_BATCH):
            chunk = events[start:start + SEND_BATCH]
            entries = [{
                "Id": str(i),
                "MessageBody": event.model_dump_json(),
                "MessageAttributes": {
                    "source": {"DataType": "String", "StringValue": event.source or event.channel.value},
                    "event_type": {"DataType": "String", "StringValue": event.type.value},
                },
            } for i, event in enumerate(chunk)]
            response = self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            failed = response.get("Failed") or []
            if failed:
                retry = [entries[int(f["Id"])] for f in failed]
                self.sqs.send_message_batch(QueueUrl=self.queue_url, Entries=retry)


class EventPublisher:
    """Domain events onto the custom bus; ``source`` says which function speaks."""

    def __init__(self, bus_name: str, source: str, events: Any | None = None) -> None:
        self.bus_name = bus_name
        self.source = source
        self._events = events

    @property
    def events(self) -> Any:
        return self._events or client("events")

    def publish(self, items: Iterable[dict[str, Any]]) -> None:
        entries = [{
            "EventBusName": self.bus_name,
            "Source": self.source,
            "DetailType": item["detail_type"],
            "Detail": json.dumps(item["detail"], default=str, ensure_ascii=False),
        } for item in items]
        for start in range(0, len(entries), PUT_EVENTS_BATCH):
            response = self.events.put_events(Entries=entries[start:start + PUT_EVENTS_BATCH])
            if response.get("FailedEntryCount"):
                raise PublishFailed(f"{response['FailedEntryCount']} events not accepted by the bus")


def ingest_queue(settings: Settings) -> EventQueue:
    return EventQueue(settings.ingest_queue_url)


def publisher(settings: Settings, source: str) -> EventPublisher:
    return EventPublisher(settings.event_bus, source)
