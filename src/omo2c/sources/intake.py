"""The webhook edge: authenticate, validate, then hand events to the queue — nothing else."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from omo2c.core.errors import InvalidEvent, NotFound, PayloadTooLarge, Unauthenticated
from omo2c.core.settings import Settings
from omo2c.sources import generic, shopify
from omo2c.sources.canonical import CanonicalEvent
from omo2c.sources.payload import SourceAdapter

ADAPTERS: dict[str, SourceAdapter] = {"generic": generic.ADAPTER, "shopify": shopify.ADAPTER}


def accept_delivery(source: str, headers: Mapping[str, str], body: bytes, *, settings: Settings,
                    secret_for: Callable[[str], str], enqueue: Callable[[list[CanonicalEvent]], None],
                    now: float) -> list[str]:
    """Verify and validate one delivery, enqueue its events, return their ids.

    Every failure raises before anything is enqueued, so a rejected delivery changes nothing.
    """
    name = source.strip().lower()
    kind = settings.webhook_sources.get(name)
    if kind is None:
        raise NotFound(f"unknown webhook source '{source[:40]}'")
    if len(body) > settings.max_body_bytes:
        raise PayloadTooLarge(f"body is larger than {settings.max_body_bytes} bytes")
    adapter = ADAPTERS[kind]
    lowered = {k.lower(): v for k, v in headers.items()}
    if not adapter.verify(lowered, body, secret_for(name), now, settings.signature_window_seconds):
        raise Unauthenticated("missing or invalid signature")
    events = adapter.parse(name, lowered, body)
    ids = [e.event_id for e in events]
    if len(set(ids)) != len(ids):
        raise InvalidEvent("event_id must be unique within one delivery")
    enqueue(events)
    return ids
