"""Webhook source adapters: each kind verifies its own signature scheme and maps its own
payloads into canonical events. Adding a platform (SHOPLINE, 91APP, ...) is one module here
plus one entry in ``ADAPTERS``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from omo2c.core.errors import MalformedBody
from omo2c.sources.canonical import CanonicalEvent


class SourceAdapter(Protocol):
    def verify(self, headers: Mapping[str, str], body: bytes, secret: str, now: float,
               window_seconds: int) -> bool: ...

    def parse(self, source: str, headers: Mapping[str, str], body: bytes) -> list[CanonicalEvent]: ...


def json_object(body: bytes, expected: str = "a JSON object") -> dict[str, Any]:
    """The body as a JSON object, or a 400 that says what was expected."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedBody("body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise MalformedBody(f"body must be {expected}")
    return payload


def adapter_for(kind: str) -> SourceAdapter:
    from omo2c.sources import generic

    adapters: dict[str, SourceAdapter] = {"generic": generic.ADAPTER}
    if kind == "shopify":
        from omo2c.sources import shopify

        adapters["shopify"] = shopify.ADAPTER
    return adapters[kind]
