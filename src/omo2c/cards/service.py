"""The member card: issue a code for a LINE member, refuse a bad one at the intake, resolve a good one in the worker.

The intake's check (:class:`MemberCodeCheck`) is the HMAC and the clock only, and this module imports
nothing heavy at the top, so the webhook intake stays small. Only issuing and resolving read the table.

An order whose code is signed and was valid when it arrived, but whose owner is no longer known (the entry
outlived its grace and was dropped, or a code signed with a leaked key), is recorded without the code and
logged: the sale happened and is counted like a walk-in's (or by the other identifiers the POS sent), and
no member is invented. Failing the record to the dead-letter queue would only park an order that a redrive
can never resolve either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

from omo2c.cards.model import MemberCode, Verdict, check, issue, lookup_of
from omo2c.core.errors import Conflict
from omo2c.core.observability import metrics

if TYPE_CHECKING:
    from omo2c.members.model import Member
    from omo2c.sources.canonical import CanonicalEvent

log = logging.getLogger("omo2c.cards")
FIELD = "customer.member_code"
PROBLEMS = {Verdict.FORGED: "not a member code of this brand",
            Verdict.EXPIRED: "the member code has expired; ask the customer to open the member card again"}
# An order may reach the worker after the code expired (sent just in time, queue retries, a redrive the
# same day): the intake refused it if it was expired when sent, so the owner is kept a day longer.
OWNER_GRACE_SECONDS = 24 * 3600
ISSUE_ATTEMPTS = 5
ALT_TEXT_LIMIT = 400
IMAGE_PATH = "/member-card/"
# Strongest first: the identifier copied into an order so the resolver finds the card's member.
IDENTIFIER_ORDER = ("pos_member_no", "phone", "ec_customer_id", "email", "line_user_id")


class CodeStore(Protocol):
    def put(self, lookup: str, member_id: str, expires_at: int) -> None: ...

    def owner(self, lookup: str, now: int | None = None) -> str | None: ...


class Members(Protocol):
    def get_member(self, member_id: str) -> Member | None: ...


class MemberCodeCheck:
    """Forged or expired codes, from the key and the clock alone; the key is read on the first code, then kept."""

    def __init__(self, key: Callable[[], str], ttl_seconds: int,
                 clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC)) -> None:
        self._key_source = key
        self.ttl_seconds = ttl_seconds
        self.clock = clock

    @cached_property
    def key(self) -> str:
        return self._key_source()

    def verdict(self, code: str, now: float | None = None) -> Verdict:
        return check(code, self.clock().timestamp() if now is None else now, self.key, self.ttl_seconds)

    def image(self, code: str) -> bytes | None:
        """The QR code of a valid code as a PNG (the code's digits, which a POS scanner types in); else None."""
        if self.verdict(code) is not Verdict.VALID:
            return None
        import io

        import segno

        buffer = io.BytesIO()
        segno.make(code, error="m").save(buffer, kind="png", scale=10, border=4)
        return buffer.getvalue()

    def refuse(self, event: CanonicalEvent) -> list[dict[str, object]] | None:
        """The intake's check: the details naming ``customer.member_code`` when the code cannot be used."""
        code = event.customer.member_code
        if not code:
            return None
        verdict = self.verdict(code)
        if verdict is Verdict.VALID:
            return None
        metrics.add_metric(name="MemberCodesRefused", unit="Count", value=1)
        return [{"field": FIELD, "problem": PROBLEMS[verdict], "event_id": event.event_id}]


class MemberCards:
    def __init__(self, store: CodeStore, key: Callable[[], str], ttl_seconds: int,
                 clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC), *, members: Members | None = None,
                 summary: Callable[[str], dict[str, Any] | None] | None = None) -> None:
        """``summary`` gives a member's tier and points (``{"tier": {"name"}, "points": {"available",
        "pending"}}``) for the card; ``members`` reads the member a code resolves to."""
        self.store = store
        self.codes = MemberCodeCheck(key, ttl_seconds, clock)
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self.members = members
        self.summary = summary

    # ------------------------------------------------------------------ LINE: the card
    def issue(self, member_id: str) -> dict[str, Any]:
        """A fresh code for the member (a new lookup each time), stored with its owner."""
        for _ in range(ISSUE_ATTEMPTS):
            code = issue(self.clock().timestamp(), self.codes.key, self.ttl_seconds)
            try:
                self.store.put(code.lookup, member_id, code.expires_at + OWNER_GRACE_SECONDS)
            except Conflict:
                continue
            metrics.add_metric(name="MemberCodesIssued", unit="Count", value=1)
            return code_view(code, self.ttl_seconds)
        raise Conflict("no free member code lookup; try again")

    def card_for(self, member: Member, base_url: str, brand: str = "") -> dict[str, Any]:
        """The Flex message of the member's card, with a code issued now."""
        return card_message(member, self.issue(member.member_id), self._summary(member.member_id), base_url,
                            brand=brand)

    def _summary(self, member_id: str) -> dict[str, Any] | None:
        """Tier and points are a courtesy on the card: when they cannot be read, the card still goes out."""
        if self.summary is None:
            return None
        try:
            return self.summary(member_id)
        except Exception as exc:
            log.warning("member card without tier and points: %s", type(exc).__name__)
            return None

    # ------------------------------------------------------------------ POS/EC: the code in an order
    def check(self, code: str) -> Verdict:
        return self.codes.verdict(code)

    def refuse(self, event: CanonicalEvent) -> list[dict[str, object]] | None:
        return self.codes.refuse(event)

    def resolve(self, event: CanonicalEvent) -> CanonicalEvent:
        """The event without its code, carrying instead an identifier of the code's member for the resolver.

        The identifier fills a field the event leaves empty (what the cashier sent is kept); a code whose
        owner is unknown leaves the event without the code (see the module's docstring)."""
        code = event.customer.member_code
        if not code:
            return event
        update: dict[str, Any] = {"member_code": None}
        owner = self.store.owner(lookup_of(code), int(self.clock().timestamp()))
        member = self.members.get_member(owner) if owner and self.members is not None else None
        found = identifier_for(member, event) if member is not None else None
        if found is None:
            metrics.add_metric(name="MemberCodesUnknown", unit="Count", value=1)
            log.warning("member code with no known member: the order is kept without it",
                        extra={"event_id": event.event_id})
        else:
            update[found[0]] = found[1]
        return event.model_copy(update={"customer": event.customer.model_copy(update=update)})


def identifier_for(member: Member, event: CanonicalEvent) -> tuple[str, str] | None:
    """The member's strongest identifier, as the customer field that carries it, for a field the event leaves
    empty. An EC customer id counts only from its own source (it is scoped by source when stored)."""
    from omo2c.identity.identifiers import IdentifierKind  # not at the top: the intake never needs it

    scope = f"{event.source or event.channel.value}:"
    for name in IDENTIFIER_ORDER:
        if getattr(event.customer, name):
            continue
        for identifier in member.identifiers:
            if identifier.kind is not IdentifierKind(name):
                continue
            if identifier.kind is IdentifierKind.EC_CUSTOMER:
                if identifier.value.startswith(scope):
                    return name, identifier.value[len(scope):]
                continue
            return name, identifier.value
    return None


def code_view(code: MemberCode, ttl_seconds: int) -> dict[str, Any]:
    return {"code": code.code, "display": code.display, "expires_at": code.expires_at,
            "valid_seconds": ttl_seconds, "image_path": f"{IMAGE_PATH}{code.code}"}


def _validity(seconds: int) -> str:
    return f"{seconds // 60} 分鐘" if seconds % 60 == 0 else f"{seconds} 秒"


def _row(label: str, value: str) -> dict[str, Any]:
    return {"type": "box", "layout": "horizontal", "contents": [
        {"type": "text", "text": label, "size": "sm", "color": "#888888", "flex": 2},
        {"type": "text", "text": value, "size": "sm", "weight": "bold", "align": "end", "flex": 3, "wrap": True}]}


def card_message(member: Member, code_view: dict[str, Any], summary: dict[str, Any] | None, base_url: str,
                 brand: str = "") -> dict[str, Any]:
    """A Flex bubble: the brand, the member's name, the code as a QR image served by the stack and as digits,
    tier and points when known, how long the code lives, and a button for a fresh one."""
    name = member.profile_value("name") or "會員"
    title = brand.strip() or "會員卡"
    rows: list[dict[str, Any]] = []
    tier = (summary or {}).get("tier") or {}
    points = (summary or {}).get("points") or {}
    if tier.get("name"):
        rows.append(_row("會員等級", str(tier["name"])))
    if points:
        rows.append(_row("可用點數", f"{int(points.get('available') or 0):,} 點"))
        if points.get("pending"):
            rows.append(_row("待入帳點數", f"{int(points['pending']):,} 點"))
    validity = _validity(int(code_view["valid_seconds"]))
    body: dict[str, Any] = {"type": "box", "layout": "vertical", "spacing": "md", "contents": [
        {"type": "text", "text": code_view["display"], "weight": "bold", "size": "xl", "align": "center"},
        *([{"type": "separator"}, *rows] if rows else []),
        {"type": "text", "text": f"結帳時請出示給店員掃描。條碼 {validity}內有效，逾時請重新產生。", "size": "xs",
         "color": "#888888", "wrap": True}]}
    bubble: dict[str, Any] = {
        "type": "bubble",
        "header": {"type": "box", "layout": "vertical", "backgroundColor": "#06C755", "contents": [
            {"type": "text", "text": title, "weight": "bold", "size": "lg", "color": "#FFFFFF", "wrap": True},
            {"type": "text", "text": f"{name} 的會員卡", "size": "sm", "color": "#FFFFFF", "wrap": True}]},
        "hero": {"type": "image", "url": f"{base_url.rstrip('/')}{code_view['image_path']}", "size": "full",
                 "aspectRatio": "1:1", "aspectMode": "fit"},
        "body": body,
        "footer": {"type": "box", "layout": "vertical", "contents": [
            {"type": "button", "style": "primary", "color": "#06C755",
             "action": {"type": "postback", "label": "重新產生條碼", "data": "action=member_card",
                        "displayText": "會員卡"}}]}}
    alt = f"{title} 會員卡 {code_view['display']}（{validity}內有效）"
    return {"type": "flex", "altText": alt[:ALT_TEXT_LIMIT], "contents": bubble}
