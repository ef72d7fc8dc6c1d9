"""Generic sources post canonical events, signed with X-Omo-Timestamp / X-Omo-Signature."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from omo2c.core.errors import InvalidEvent, validation_details
from omo2c.core.jsonbody import json_object
from omo2c.sources.canonical import CanonicalEvent, parse_delivery
from omo2c.sources.signatures import verify_omo


class GenericAdapter:
    def verify(self, headers: Mapping[str, str], body: bytes, secret: str, now: float,
               window_seconds: int) -> bool:
        return verify_omo(secret, headers.get("x-omo-timestamp"), headers.get("x-omo-signature"), body, now,
                          window_seconds)

    def parse(self, source: str, headers: Mapping[str, str], body: bytes) -> list[CanonicalEvent]:
        payload = json_object(body, "a JSON object: one event or {\"events\": [...]}")
        try:
            events = parse_delivery(payload)
        except ValidationError as exc:
            raise InvalidEvent("the event does not match the canonical schema",
                               validation_details(exc)) from exc
        return [e.model_copy(update={"source": source}) for e in events]


ADAPTER = GenericAdapter()
