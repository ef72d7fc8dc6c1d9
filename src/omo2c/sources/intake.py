"""The webhook edge: authenticate, validate, then hand events to the queue — nothing else.

It is also the one place that decides which sources may link a LINE user: the edge knows the
source, and everything behind it (the queue, the resolver) only sees what the edge let through.
A member card's code is checked here too (``refuse``: its signature and expiry, no table read), so a
forged or expired one is answered at once and never reaches the queue.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from omo2c.core.errors import InvalidEvent, NotFound, PayloadTooLarge, Unauthenticated
from omo2c.core.settings import Settings
from omo2c.sources import generic, shopify
from omo2c.sources.canonical import CanonicalEvent
from omo2c.sources.payload import SourceAdapter

ADAPTERS: dict[str, SourceAdapter] = {"generic": generic.ADAPTER, "shopify": shopify.ADAPTER}
UNTRUSTED_LINE_ID = ("this source may not link LINE users (only the LINE webhook, or a source listed in "
                     "OMO_LINE_ID_TRUSTED_SOURCES); the rest of the event was accepted")


@dataclass(frozen=True)
class Accepted:
    """What a delivery's 202 says: the queued event ids, and the fields that were dropped from them."""

    accepted: list[str]
    ignored: list[dict[str, str]] = field(default_factory=list)

    def response(self) -> dict[str, object]:
        return {"accepted": self.accepted, **({"ignored": self.ignored} if self.ignored else {})}


def without_untrusted_line_id(event: CanonicalEvent, source: str,
                              settings: Settings) -> tuple[CanonicalEvent, dict[str, str] | None]:
    """A LINE user id proves nothing when a POS/EC source sends it: dropped unless the source is trusted for it.

    Otherwise any signed source could merge a LINE member with the owner of any phone it names."""
    if not event.customer.line_user_id or source in settings.line_id_trusted_sources:
        return event, None
    customer = event.customer.model_copy(update={"line_user_id": None})
    ignored = {"event_id": event.event_id, "field": "customer.line_user_id", "reason": UNTRUSTED_LINE_ID}
    return event.model_copy(update={"customer": customer}), ignored


def accept_delivery(source: str, headers: Mapping[str, str], body: bytes, *, settings: Settings,
                    secret_for: Callable[[str], str], enqueue: Callable[[list[CanonicalEvent]], None],
                    now: float,
                    refuse: Callable[[CanonicalEvent], list[dict[str, object]] | None] | None = None) -> Accepted:
    """Verify and validate one delivery, enqueue its events, return their ids and what was ignored.

    ``refuse`` names what makes an event unusable beyond its schema (a forged or expired member code).
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
    refused = [detail for e in events if refuse is not None and e.customer.member_code
               for detail in refuse(e) or []]
    if refused:
        raise InvalidEvent("a member code cannot be used", refused)
    checked = [without_untrusted_line_id(e, name, settings) for e in events]
    enqueue([event for event, _ in checked])
    return Accepted(ids, [note for _, note in checked if note is not None])
