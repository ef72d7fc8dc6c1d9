"""Customer identifiers and their normal forms.

Every identifier is stored and matched in one normal form, so that ``0912-345-678``,
``+886 912 345 678`` and ``886912345678`` are the same phone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers


class IdentifierKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    LINE_USER = "line_user_id"
    POS_MEMBER = "pos_member_no"
    EC_CUSTOMER = "ec_customer_id"


class InvalidIdentifier(ValueError):
    """The value cannot be a valid identifier of that kind."""


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LINE_USER_ID = r"^U[0-9a-f]{32}$"
_LINE_USER = re.compile(LINE_USER_ID)
_PLAIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}$")


def normalize_phone(raw: str, region: str = "TW") -> str:
    """E.164 form, trying the default region first and then a bare country code."""
    text = raw.strip()
    if not text or not re.search(r"\d", text):
        raise InvalidIdentifier("phone")
    candidates = [text]
    digits = re.sub(r"[^\d+]", "", text)
    if not digits.startswith("+") and not digits.startswith("0") and len(digits) > 10:
        candidates.append("+" + digits)
    for candidate in candidates:
        try:
            parsed = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidIdentifier("phone")


def normalize_email(raw: str) -> str:
    text = raw.strip().lower()
    if not _EMAIL.match(text) or len(text) > 254:
        raise InvalidIdentifier("email")
    return text


def normalize(kind: IdentifierKind, raw: str, region: str = "TW", scope: str = "") -> str:
    """Normal form of an identifier; ``scope`` qualifies per-source ids (EC customer ids)."""
    if kind is IdentifierKind.PHONE:
        return normalize_phone(raw, region)
    if kind is IdentifierKind.EMAIL:
        return normalize_email(raw)
    text = raw.strip()
    if kind is IdentifierKind.LINE_USER:
        if not _LINE_USER.match(text):
            raise InvalidIdentifier("line_user_id")
        return text
    if not _PLAIN_ID.match(text):
        raise InvalidIdentifier(kind.value)
    if kind is IdentifierKind.EC_CUSTOMER:
        return f"{scope or 'ec'}:{text}"
    return text


@dataclass(frozen=True, order=True)
class Identifier:
    kind: IdentifierKind
    value: str

    @property
    def key(self) -> str:
        return f"{self.kind.value}#{self.value}"


class BlockList:
    """Placeholders, test numbers and the stores' own phones: stored on events, never matched."""

    def __init__(self, entries: tuple[str, ...] | list[str] | set[str] = (), region: str = "TW"):
        self._raw = {e.strip().lower() for e in entries if e.strip()}
        self._phones = set()
        for entry in self._raw:
            try:
                self._phones.add(normalize_phone(entry, region))
            except InvalidIdentifier:
                continue

    def with_phones(self, phones: list[str] | set[str]) -> BlockList:
        merged = BlockList()
        merged._raw = set(self._raw)
        merged._phones = self._phones | set(phones)
        return merged

    def blocks(self, raw: str, normal: str | None = None) -> bool:
        lowered = raw.strip().lower()
        if lowered in self._raw or (normal is not None and normal.lower() in self._raw):
            return True
        if normal is not None and normal in self._phones:
            return True
        if normal is not None and normal.startswith("+"):
            national = normal[4:] if normal.startswith("+886") else normal[3:]
            if len(set(national[1:])) <= 1:
                return True
        return False
