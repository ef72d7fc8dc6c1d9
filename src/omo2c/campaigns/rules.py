"""Who a campaign selects, what it says, and whether, how and when a message may go out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from omo2c.binding.model import BindingPolicy, active
from omo2c.campaigns.model import TEMPLATE_TOKEN, Segment
from omo2c.channels.line import LINE_TEXT_LIMIT
from omo2c.channels.sms import segments
from omo2c.members.model import NO_ORDER_DAY, Member, home_store

SMS_SEGMENT_LIMIT = 10  # our cap: 10 UCS-2 parts, 670 characters with 【Brand】; bounds cost and carrier reassembly
EMAIL_TEXT_LIMIT = 100_000
URL = re.compile(r"https?://[^\s<>\"'（）「」，。、]+")


def day_ranges(segment: Segment, now: datetime, napl_window: int = 90) -> list[tuple[str, str]]:
    """last_order_day ranges (inclusive) the activity index is queried with; prospects are one day."""
    ranges: list[tuple[int, int | None]] = []
    if segment.days_since_last_order is not None:
        low, high = segment.days_since_last_order.min, segment.days_since_last_order.max
        ranges.append((int(low) if low is not None else 0, int(high) if high is not None else None))
    elif segment.napl:
        windows: dict[str, tuple[int, int | None]] = {
            "new": (0, napl_window), "active": (0, napl_window), "passive": (napl_window, 2 * napl_window),
            "lost": (2 * napl_window, None)}
        ranges += [windows[c] for c in segment.napl if c in windows]
    else:
        ranges.append((0, None))
    today = now.astimezone(ZoneInfo("Asia/Taipei")).date()
    out = []
    for low, high in ranges:
        newest = (today - timedelta(days=low)).isoformat()
        oldest = (today - timedelta(days=high)).isoformat() if high is not None else "0001-01-01"
        out.append((oldest, newest))
    no_order_filter = segment.days_since_last_order is None and not segment.napl
    may_have_no_orders = segment.order_count is None or not segment.order_count.min
    if (segment.napl and "prospect" in segment.napl) or (no_order_filter and may_have_no_orders):
        out.append((NO_ORDER_DAY, NO_ORDER_DAY))
    return _merge(out)


def _merge(ranges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    merged: list[tuple[str, str]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def matches(member: Member, segment: Segment, now: datetime, napl_window: int = 90,
            binding_policy: BindingPolicy | None = None, in_tiers: bool = False) -> bool:
    """The segment's remaining filters, applied to members an index already selected. Members carry no tier:
    ``in_tiers`` says the member came from the segment's tier index, and a ``tiers`` segment needs it."""
    if not member.live:
        return False
    if segment.tiers and not in_tiers:
        return False
    rfm = member.rfm
    if segment.napl and rfm.napl(now, napl_window).value not in segment.napl:
        return False
    if segment.days_since_last_order is not None:
        if rfm.last_order_at is None:
            return False
        days = (now.timestamp() * 1000 - rfm.last_order_at) / 86_400_000
        if not segment.days_since_last_order.contains(days):
            return False
    if segment.order_count is not None and not segment.order_count.contains(rfm.order_count):
        return False
    if segment.net_spent is not None and not segment.net_spent.contains(float(rfm.net_spent)):
        return False
    if segment.tags or segment.tags_none:
        tags = {Segment.spelling(t) for t in member.tags}
        if segment.tags and not set(segment.tags) & tags:
            return False
        if segment.tags_none and set(segment.tags_none) & tags:
            return False
    binding = active(member.binding, now, binding_policy or BindingPolicy())
    if segment.store_ids and home_store(member, binding) not in segment.store_ids:
        return False
    return segment.bound is None or segment.bound == (binding is not None)


def render(template: str, *, name: str | None, staff_name: str | None, store_name: str | None,
           coupon: str | None) -> str:
    """Plain substitution of the four placeholders: nothing in the template or in a value is evaluated,
    and a brace that is not a placeholder (only in a template that skipped validation) stays as text."""
    values = {"name": name, "staff_name": staff_name, "store_name": store_name, "coupon": coupon}

    def substitute(token: re.Match[str]) -> str:
        if token.group(1):
            return values[token.group(1)] or ""
        return token.group()[0]

    return TEMPLATE_TOKEN.sub(substitute, template).strip()


def links_in(template: str) -> list[str]:
    """The URLs a message template shows, once each, in order: each becomes a counted link."""
    return list(dict.fromkeys(m.group().rstrip(".,!?;:)") for m in URL.finditer(template)))


def with_links(template: str, short: dict[str, str]) -> str:
    """The template with each URL replaced by its counted link (URLs without one stay as they are)."""
    def replace(match: re.Match[str]) -> str:
        url = match.group()
        core = url.rstrip(".,!?;:)")
        return short.get(core, core) + url[len(core):]

    return URL.sub(replace, template) if short else template


def sms_text(brand: str, text: str) -> str:
    return f"【{brand}】{text}"


def length_problem(text: str, channel: str, brand: str) -> str | None:
    """Why ``text`` cannot go out whole on ``channel``, or None: a message is refused or skipped, never cut."""
    if channel == "line":
        units = len(text.encode("utf-16-le")) // 2  # conservative: an emoji counts as two
        if units > LINE_TEXT_LIMIT:
            return f"{units:,} characters; a LINE text message holds at most {LINE_TEXT_LIMIT:,}"
        return None
    if channel == "email":
        return None if len(text) <= EMAIL_TEXT_LIMIT else f"{len(text):,} characters; at most {EMAIL_TEXT_LIMIT:,}"
    parts = segments(sms_text(brand, text))
    if parts > SMS_SEGMENT_LIMIT:
        return f"{parts} SMS segments with the 【{brand}】 prefix; at most {SMS_SEGMENT_LIMIT} SMS segments"
    return None


@dataclass(frozen=True)
class ChannelChoice:
    channel: str | None
    reason: str | None = None


def choose_channel(member: Member, channels: list[str], opted_out: bool) -> ChannelChoice:
    """Consent first, in the campaign's order: LINE when followed and reachable, SMS when the member opted in
    to SMS, e-mail when they opted in to e-mail at an address that has not bounced. An e-mail consent
    withdrawn (the unsubscribe link, or a POS saying no) skips as ``unsubscribed``."""
    if opted_out:
        return ChannelChoice(None, "opted_out")
    reasons = []
    for channel in channels:
        if channel == "line":
            user = member.line_user_id
            if user and member.line is not None and member.line.reachable \
                    and member.consent.get("line", True) is not False:
                return ChannelChoice("line")
            reasons.append("line_unreachable")
        elif channel == "sms":
            phone = member.phone
            if phone and member.consent.get("sms") is True:
                return ChannelChoice("sms")
            reasons.append("no_sms_consent" if phone else "no_phone")
        elif channel == "email":
            consent = member.consent.get("email")
            if member.deliverable_email and consent is True:
                return ChannelChoice("email")
            reasons.append("no_email" if not member.email else "email_bounced" if not member.deliverable_email
                           else "unsubscribed" if consent is False else "no_email_consent")
    return ChannelChoice(None, reasons[-1] if reasons else "no_channel")


def quiet_until(now: datetime, windows: list[tuple[str, str]], zone: str) -> datetime | None:
    """None when a promotional send is allowed now, else the moment the quiet window ends."""
    local = now.astimezone(ZoneInfo(zone))
    for start_text, end_text in windows:
        start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
        clock = local.time()
        inside = (start <= clock < end) if start < end else (clock >= start or clock < end)
        if inside:
            end_day = local.date() if (start < end or clock < end) else local.date() + timedelta(days=1)
            until = datetime.combine(end_day, end, tzinfo=ZoneInfo(zone))
            return quiet_until(until, windows, zone) or until
    return None


def sms_cost(segments: int, price_per_segment: str) -> Decimal:
    return (Decimal(price_per_segment) * segments).quantize(Decimal("0.0001"))
