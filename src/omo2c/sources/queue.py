"""The ingest queue: one SQS message per canonical event, through the one SQS batch sender."""

from __future__ import annotations

from omo2c.core.queues import BatchSender
from omo2c.sources.canonical import CanonicalEvent


class IngestQueue:
    def __init__(self, sender: BatchSender) -> None:
        self.sender = sender

    def send(self, events: list[CanonicalEvent]) -> None:
        self.sender.send([{
            "MessageBody": event.model_dump_json(),
            "MessageAttributes": {
                "source": {"DataType": "String", "StringValue": event.source or event.channel.value},
                "event_type": {"DataType": "String", "StringValue": event.type.value},
            },
        } for event in events])
