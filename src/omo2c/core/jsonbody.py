"""Reading a request body as one JSON object, with every way a body can be hostile a 400."""

from __future__ import annotations

import json
from typing import Any

from omo2c.core.errors import MalformedBody


def json_object(body: bytes | str, expected: str = "a JSON object") -> dict[str, Any]:
    """The body as a JSON object, or a 400 that says what was expected (also for numbers too long to
    convert and nesting too deep to parse, which ``json`` reports as ValueError and RecursionError)."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedBody("body is not valid JSON") from exc
    except ValueError as exc:
        raise MalformedBody("body has a number too long to read") from exc
    except RecursionError as exc:
        raise MalformedBody("body is nested too deeply") from exc
    if not isinstance(payload, dict):
        raise MalformedBody(f"body must be {expected}")
    return payload
