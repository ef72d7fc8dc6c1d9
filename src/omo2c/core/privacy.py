"""Keep phone numbers and emails out of logs."""

from __future__ import annotations

import logging
import re

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"(?<![\w])\+?\d[\d\s\-().]{7,}\d(?![\w])")


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
    return f"***{digits[-3:]}" if len(digits) >= 3 else "***"


def mask_email(email: str | None) -> str:
    if not email or "@" not in email:
        return "***" if email else ""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def redact(text: str) -> str:
    """Mask anything that looks like an email or a phone number in free text."""
    text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)


def redact_value(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


class RedactingFilter(logging.Filter):
    """Redacts the formatted message and any extra keys before a record is emitted."""

    _STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg = record.getMessage()
            record.args = None
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        elif isinstance(record.msg, dict | list):
            record.msg = redact_value(record.msg)
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        for key, value in list(record.__dict__.items()):
            if key not in self._STANDARD and isinstance(value, str | dict | list):
                setattr(record, key, redact_value(value))
        return True
