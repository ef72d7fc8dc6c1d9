"""The port every source adapter implements."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from omo2c.sources.canonical import CanonicalEvent


class SourceAdapter(Protocol):
    def verify(self, headers: Mapping[str, str], body: bytes, secret: str, now: float,
               window_seconds: int) -> bool: ...

    def parse(self, source: str, headers: Mapping[str, str], body: bytes) -> list[CanonicalEvent]: ...
