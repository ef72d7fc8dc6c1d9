"""CSV cells a spreadsheet opens safely (statements and campaign reports alike)."""

from __future__ import annotations

import re
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # OWASP's list of what a spreadsheet may execute
PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def spreadsheet_cell(value: Any) -> str:
    """A cell no spreadsheet executes: text starting like a formula gets OWASP's leading single quote;
    a plain decimal such as ``-6`` stays a number (it cannot be a formula: digits and one point only)."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text
