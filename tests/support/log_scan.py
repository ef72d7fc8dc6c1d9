"""Fail the test run if any log line carries a raw phone number or email."""

from __future__ import annotations

import logging
import re

RAW_PHONE = re.compile(
    r"(?<![\d*])(?:\+?886[\s\-]?9\d{2}[\s\-]?\d{3}[\s\-]?\d{3}|09\d{2}[\s\-]?\d{3}[\s\-]?\d{3})(?!\d)")
RAW_EMAIL = re.compile(r"(?<![\w.*])[A-Za-z0-9._%+\-]{2,}@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


def leaks(text: str) -> list[str]:
    return RAW_PHONE.findall(text) + [m for m in RAW_EMAIL.findall(text) if "***@" not in m]


class LeakScanner(logging.Handler):
    """Formats every record as it would be emitted and remembers any that leak."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.found: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:
            return
        if leaks(text):
            self.found.append(text[:300])
