"""Staff share links: a short code that opens a product page with the staff member's referral.

A link code is 8 characters of the staff-code alphabet with at least one letter: never the shape
of a staff QR code (10 characters, and ``#`` + 10 in a LINE binding message), of a one-time
code (6 digits) or of a phone number, so a link code pasted into LINE is taken for none of them.
The referral a click carries is ``<code>.<share epoch>.<click epoch>``, the form
:func:`omo2c.attribution.rules.parse_referral` reads: validity then counts from the click.

A campaign link is a share link of no staff member: its code is derived from the campaign, the run,
the channel and the URL (the same message gets the same link), and a click on it carries the
campaign's ``utm_`` parameters instead of a staff referral.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import count
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

from omo2c.core.errors import InvalidEvent
from omo2c.staff.model import CODE_ALPHABET

LINK_CODE_LENGTH = 8
LINK_CODE = re.compile(rf"^(?=.*[a-z])[{CODE_ALPHABET}]{{{LINK_CODE_LENGTH}}}$")
MAX_URL_LENGTH = 2048
REFERRAL_PARAMETER = "ref"
REPEAT_WINDOW_SECONDS = 24 * 3600
UTM_SOURCE = "omo2c"

_BOT_AGENT = re.compile(
    r"(?<!cu)bot\b|crawl|spider|slurp|preview|facebookexternalhit|facebot|meta-externalagent|whatsapp|"
    r"embedly|iframely|headlesschrome|lighthouse|curl/|wget/|python-|go-http-client|libwww|java/")


@dataclass(frozen=True)
class ShareLink:
    """A staff member's link (``staff_id``), or a campaign's (``campaign_id``, ``run_id``, ``channel``; no staff)."""

    code: str
    staff_id: str | None
    url: str
    created_at: datetime
    clicks: int | None = None
    bot_clicks: int | None = None
    repeat_clicks: int | None = None
    campaign_id: str | None = None
    run_id: str | None = None
    channel: str | None = None

    @property
    def is_campaign(self) -> bool:
        return self.campaign_id is not None

    def same_target(self, other: ShareLink) -> bool:
        """Both links open the same URL for the same staff member or the same campaign message."""
        return ((self.staff_id, self.campaign_id, self.run_id, self.channel, self.url)
                == (other.staff_id, other.campaign_id, other.run_id, other.channel, other.url))


def new_link_code() -> str:
    """Unguessable like a staff code, but shorter and never all digits (see the module docstring)."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(LINK_CODE_LENGTH))
        if is_link_code(code):
            return code


def is_link_code(text: str) -> bool:
    """Checked before any read: junk in a public URL never reaches the table."""
    return bool(LINK_CODE.fullmatch(text))


def campaign_link_codes(campaign_id: str, run_id: str, channel: str, url: str) -> Iterator[str]:
    """The codes a campaign message's link may have, in the order they are tried: the same four values always
    give the same codes (a SHA-256 digest read in the code alphabet), each a valid link code."""
    for salt in count():
        digest = hashlib.sha256(json.dumps([campaign_id, run_id, channel, url, salt]).encode()).digest()
        number = int.from_bytes(digest, "big")
        chars = []
        for _ in range(LINK_CODE_LENGTH):
            number, index = divmod(number, len(CODE_ALPHABET))
            chars.append(CODE_ALPHABET[index])
        code = "".join(chars)
        if is_link_code(code):  # an all-digit draw (about 1 in 50,000) is skipped
            yield code


def _bad_url(problem: str) -> InvalidEvent:
    return InvalidEvent("invalid url", [{"field": "url", "problem": problem}])


def target_url(url: str) -> str:
    """The page a link may open: an absolute http(s) URL a browser reads the way we do.

    User info (``https://shop.example@evil.example``) and backslashes are refused because browsers
    and parsers disagree on the host they name; invisible format characters because they disguise it."""
    if not isinstance(url, str) or not url.strip():
        raise _bad_url("a URL is required")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise _bad_url(f"longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in url) or "\\" in url:
        raise _bad_url("contains whitespace, control characters or backslashes")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise _bad_url("not a URL") from exc
    if parts.scheme not in ("http", "https"):
        raise _bad_url("must be an absolute http or https URL")
    if not parts.hostname:
        raise _bad_url("must name a host")
    if "@" in parts.netloc:
        raise _bad_url("must not carry a user name or password")
    return url


def referral(code: str, shared_at: datetime, clicked_at: datetime) -> str:
    return f"{code}.{int(shared_at.timestamp())}.{int(clicked_at.timestamp())}"


def with_referral(url: str, code: str, shared_at: datetime, clicked_at: datetime) -> str:
    """The URL with ``ref`` set to this click's referral; its own parameters and fragment stay byte for byte."""
    parts = urlsplit(url)
    kept = [p for p in parts.query.split("&") if p and unquote_plus(p.split("=", 1)[0]) != REFERRAL_PARAMETER]
    query = "&".join([*kept, f"{REFERRAL_PARAMETER}={referral(code, shared_at, clicked_at)}"])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def with_campaign(url: str, campaign_id: str, channel: str) -> str:
    """The URL with ``utm_source=omo2c&utm_medium=<channel>&utm_campaign=<campaign id>`` appended, its own
    parameters and fragment kept byte for byte; a URL that already names any ``utm_`` parameter keeps its own.
    A ``ref`` in the URL is dropped: a campaign link never carries a staff referral."""
    parts = urlsplit(url)
    params = [p for p in parts.query.split("&") if p]
    names = [unquote_plus(p.split("=", 1)[0]) for p in params]
    kept = [p for p, name in zip(params, names, strict=True) if name != REFERRAL_PARAMETER]
    if not any(name.lower().startswith("utm_") for name in names):
        kept += [f"utm_source={UTM_SOURCE}", f"utm_medium={quote(channel, safe='')}",
                 f"utm_campaign={quote(campaign_id, safe='')}"]
    if kept == params:
        return url
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(kept), parts.fragment))


def is_bot(user_agent: str | None) -> bool:
    """Link previews (LINE's is ``facebookexternalhit``), crawlers and scripts: fetched, not clicked.

    ``cubot`` is a phone brand, not a bot."""
    agent = (user_agent or "").strip().lower()
    return not agent or bool(_BOT_AGENT.search(agent))


def visitor_key(code: str, source_ip: str | None, user_agent: str | None) -> str:
    """Who clicked, as far as a repeat is concerned: a digest, so the address itself is never stored."""
    text = json.dumps([code, source_ip or "", user_agent or ""])
    return hashlib.sha256(text.encode()).hexdigest()
