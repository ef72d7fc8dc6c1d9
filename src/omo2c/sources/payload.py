"""What every source adapter shares: the port it implements and the JSON-object body parser."""

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
