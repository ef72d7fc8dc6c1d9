"""The EventBridge bus, behind one small adapter: typed events in, PutEvents out."""

from __future__ import annotations

from typing import Any

from omo2c.core.aws import client
from omo2c.core.errors import Unavailable
from omo2c.events import BusEvent

PUT_EVENTS_BATCH = 10


class PublishFailed(Unavailable):
    """EventBridge refused some entries; the caller's message will be retried."""


class EventPublisher:
    """Each event goes out with its own detail-type and source (the area that speaks)."""

    def __init__(self, bus_name: str, events: Any | None = None) -> None:
        self.bus_name = bus_name
        self._events = events

    @property
    def events(self) -> Any:
        return self._events or client("events")

    def publish(self, items: list[BusEvent]) -> None:
        entries = [{"EventBusName": self.bus_name, "Source": item.SOURCE, "DetailType": item.DETAIL_TYPE,
                    "Detail": item.model_dump_json()} for item in items]
        for start in range(0, len(entries), PUT_EVENTS_BATCH):
            response = self.events.put_events(Entries=entries[start:start + PUT_EVENTS_BATCH])
            if response.get("FailedEntryCount"):
                raise PublishFailed(f"{response['FailedEntryCount']} events not accepted by the bus")
