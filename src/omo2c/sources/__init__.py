"""Webhook source adapters: each kind verifies its own signature scheme and maps its own
payloads into canonical events. Adding a platform (SHOPLINE, 91APP, ...) is one module here
plus one entry in ``ADAPTERS``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from omo2c.canonical import CanonicalEvent


class SourceAdapter(Protocol):
    def verify(self, headers: Mapping[str, str], body: bytes, secret: str, now: float,
               window_seconds: int) -> bool: ...

    def parse(self, source: str, headers: Mapping[str, str], body: bytes) -> list[CanonicalEvent]: ...


def adapter_for(kind: str) -> SourceAdapter:
    from omo2c.sources import generic

    adapters: dict[str, SourceAdapter] = {"generic": generic.ADAPTER}
    if kind == "shopify":
        from omo2c.sources import shopify

        adapters["shopify"] = shopify.ADAPTER
    return adapters[kind]
