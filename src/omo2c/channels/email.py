"""E-mail behind a one-method port: Amazon SES v2 sends a MIME message built here.

The message is ``multipart/alternative`` (the rendered text, and an HTML part made from the same
text by :func:`html_document`), UTF-8 throughout: the parts in base64, Subject/From/To in RFC 2047
encoded words, so a Chinese subject and sender name survive every mail server. Every message carries
``List-Unsubscribe`` (the mailto first when one is configured, then our signed ``/u/<token>`` URL) and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058): mail clients show an unsubscribe
button that works without opening the message. SES tags (``EmailTags``) name the campaign, run and
member, and come back on the bounce and complaint events SES publishes.

Errors go two ways: :class:`EmailUnavailable` (throttled, SES 5xx, no connection: the send queue
retries) and :class:`EmailRejected` (refused for good: not verified, a bad address, MessageRejected).
No error message carries an address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import EmailMessage as MimeMessage
from email.policy import EmailPolicy
from email.utils import formataddr, formatdate, parseaddr
from html import escape
from typing import Any, Protocol

from omo2c.core.aws import client

TAG_VALUE = re.compile(r"[^A-Za-z0-9_\-]")
TAG_LIMIT = 256  # SES: a tag name or value is at most 256 characters
UNSUBSCRIBE_HEADER = "List-Unsubscribe"
ONE_CLICK = "List-Unsubscribe=One-Click"
FOOTER_QUESTION = "不想再收到這類信件？"
FOOTER_LINK = "取消訂閱"
# SES error codes that retrying later can cure (the rest of the 4xx are refusals for good).
RETRYABLE_CODES = frozenset({
    "TooManyRequestsException", "Throttling", "ThrottlingException", "LimitExceededException",
    "SendingPausedException", "AccountSuspendedException", "InternalFailure", "InternalServiceError",
    "ServiceUnavailable", "RequestTimeout", "RequestTimeoutException",
})
# URLs in the rendered text become links: RFC 3986 characters only, so Chinese punctuation ends one.
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+")
_TRAILING = ".,;:!?'"
_ENTRIES = re.compile(r"(?<=>)\s*,\s*")


class EmailUnavailable(RuntimeError):
    """SES throttled, failed (5xx) or could not be reached: the caller's queue retries later."""


class EmailRejected(RuntimeError):
    """SES refused the message for good (not verified, a bad address, MessageRejected): retrying will not help."""


@dataclass(frozen=True)
class EmailMessage:
    to: str
    subject: str
    text: str
    html: str
    unsubscribe_url: str
    unsubscribe_mailto: str | None
    tags: dict[str, str] = field(default_factory=dict)


class EmailSender(Protocol):
    def send(self, message: EmailMessage) -> str: ...


class _MailPolicy(EmailPolicy):
    """SMTP's policy (CRLF, 78 columns, 7-bit), except ``List-Unsubscribe``: its URLs stay whole, one per line.

    The standard folding would turn a URL longer than a line into encoded words, which no mail client
    reads as a URL; RFC 2369 allows folding only between the angle-bracketed entries.
    """

    def _unsubscribe(self, name: str, value: Any) -> str:
        entries = [entry.strip() for entry in _ENTRIES.split(str(value)) if entry.strip()]
        return f"{name}: " + f",{self.linesep} ".join(entries) + self.linesep

    def fold(self, name: str, value: Any) -> str:
        if name.lower() == UNSUBSCRIBE_HEADER.lower():
            return self._unsubscribe(name, value)
        return super().fold(name, value)

    def fold_binary(self, name: str, value: Any) -> bytes:
        if name.lower() == UNSUBSCRIBE_HEADER.lower():
            return self._unsubscribe(name, value).encode("ascii")
        return super().fold_binary(name, value)


POLICY = _MailPolicy(linesep="\r\n")


def unsubscribe_header(url: str, mailto: str | None) -> str:
    """``<mailto:…?subject=unsubscribe>, <https://…/u/TOKEN>`` (the mailto only when one is configured)."""
    entries = []
    if mailto:
        address = mailto.removeprefix("mailto:")
        entries.append(f"<mailto:{address}?subject=unsubscribe>")
    entries.append(f"<{url}>")
    value = ", ".join(entries)
    if not value.isascii() or any(ch in value for ch in "\r\n"):
        raise EmailRejected("the unsubscribe addresses must be plain ASCII")
    return value


def ses_tags(tags: dict[str, str]) -> list[dict[str, str]]:
    """SES allows only ``[A-Za-z0-9_-]`` in tag names and values: anything else becomes ``_``."""
    out = []
    for name, value in tags.items():
        clean_name, clean_value = TAG_VALUE.sub("_", name)[:TAG_LIMIT], TAG_VALUE.sub("_", value)[:TAG_LIMIT]
        if clean_name and clean_value:
            out.append({"Name": clean_name, "Value": clean_value})
    return out


def _sender(from_address: str) -> str:
    """The sender as SES's ``FromEmailAddress`` wants it: a non-ASCII display name in an encoded word."""
    name, address = parseaddr(from_address)
    if "@" not in address:
        raise EmailRejected("the sender is not an e-mail address")
    return formataddr((name, address), charset="utf-8")


def _recipient(to: str) -> str:
    """A bare ASCII address (an internationalised domain in its IDNA form)."""
    _, address = parseaddr(to)
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or not local.isascii():
        raise EmailRejected("the recipient is not a deliverable e-mail address")
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise EmailRejected("the recipient's domain is not valid") from exc
    return f"{local}@{domain}"


def mime_message(from_address: str, message: EmailMessage) -> bytes:
    """The raw message SES sends: headers and both parts, ASCII on the wire."""
    mime = MimeMessage(policy=POLICY)
    mime["Subject"] = message.subject
    mime["From"] = from_address
    mime["To"] = _recipient(message.to)
    mime["Date"] = formatdate(usegmt=True)
    mime[UNSUBSCRIBE_HEADER] = unsubscribe_header(message.unsubscribe_url, message.unsubscribe_mailto)
    mime["List-Unsubscribe-Post"] = ONE_CLICK
    mime.set_content(message.text, subtype="plain", charset="utf-8", cte="base64")
    mime.add_alternative(message.html, subtype="html", charset="utf-8", cte="base64")
    return mime.as_bytes()


def classify(exc: Exception) -> RuntimeError:
    """A botocore error as one of ours, read from its response (no botocore import here)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str((response.get("Error") or {}).get("Code") or "")
        status = int((response.get("ResponseMetadata") or {}).get("HTTPStatusCode") or 0)
        if code in RETRYABLE_CODES or status == 429 or status >= 500:
            return EmailUnavailable(f"SES answered {code or status}")
        return EmailRejected(f"SES refused the message: {code or status}")
    if type(exc).__name__ == "ParamValidationError":
        return EmailRejected("the message does not fit SES's request")
    return EmailUnavailable(f"SES could not be reached: {type(exc).__name__}")


class SesEmailSender:
    def __init__(self, from_address: str, configuration_set: str = "", ses: Any | None = None) -> None:
        self.from_address = from_address
        self.configuration_set = configuration_set
        self._ses = ses

    def send(self, message: EmailMessage) -> str:
        if not self.from_address:
            raise EmailRejected("no sender address is configured")
        sender = _sender(self.from_address)
        request: dict[str, Any] = {
            "FromEmailAddress": sender,
            "Destination": {"ToAddresses": [_recipient(message.to)]},
            "Content": {"Raw": {"Data": mime_message(self.from_address, message)}},
            "EmailTags": ses_tags(message.tags),
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        ses = self._ses or client("sesv2")
        try:
            return str(ses.send_email(**request)["MessageId"])
        except Exception as exc:
            raise classify(exc) from exc


def _linked(text: str) -> str:
    """Escape the text and make each http(s) URL in it a link (trailing punctuation stays text)."""
    out, last = [], 0
    for match in _URL.finditer(text):
        url = match.group(0)
        while url and (url[-1] in _TRAILING or (url[-1] == ")" and "(" not in url)):
            url = url[:-1]
        if len(url) <= len(url.split("://", 1)[0]) + 3:
            continue
        out.append(escape(text[last:match.start()]))
        out.append(f'<a href="{escape(url, quote=True)}" style="color:#0b6bcb;">{escape(url)}</a>')
        last = match.start() + len(url)
    out.append(escape(text[last:]))
    return "".join(out).replace("\r\n", "\n").replace("\n", "<br>\n")


def html_document(text: str, brand: str, unsubscribe_url: str) -> str:
    """The HTML part from the same rendered text: escaped, links, line breaks, and an unsubscribe footer.

    Inline styles only and no external resource (no image, font or stylesheet): nothing loads from
    elsewhere when the message is opened.
    """
    name = escape(brand)
    return (
        '<!doctype html><html lang="zh-Hant"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{name}</title></head>"
        '<body style="margin:0;padding:0;background-color:#f4f4f4;">'
        '<div style="max-width:600px;margin:0 auto;padding:24px;background-color:#ffffff;color:#222222;'
        'font-family:-apple-system,\'PingFang TC\',\'Microsoft JhengHei\',\'Noto Sans TC\',sans-serif;'
        'font-size:16px;line-height:1.7;">'
        f'<p style="margin:0;">{_linked(text)}</p></div>'
        '<div style="max-width:600px;margin:0 auto;padding:16px 24px;color:#888888;font-size:12px;'
        'line-height:1.6;font-family:sans-serif;">'
        f'<p style="margin:0 0 4px 0;">{name}</p>'
        f'<p style="margin:0;">{FOOTER_QUESTION}<a href="{escape(unsubscribe_url, quote=True)}" '
        f'style="color:#888888;text-decoration:underline;">{FOOTER_LINK}</a></p>'
        "</div></body></html>"
    )
