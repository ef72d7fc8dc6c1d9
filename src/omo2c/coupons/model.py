"""Coupon rules without AWS: templates, codes, a coupon's state, what a redemption may do.

A template is the offer (an amount or a percentage off, from a minimum spend, valid some days
after issue, at most so many per member, optionally only in some stores). Issuing copies its
terms onto the coupon, so a coupon keeps the terms it was given with and a redemption reads one item.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from omo2c.core.errors import Conflict, Gone, InvalidEvent
from omo2c.staff.model import CODE_ALPHABET

CODE_LENGTH = 10
# Where a preview or a length check needs a code before one is issued: as long as a real one.
SAMPLE_CODE = "X" * CODE_LENGTH
_TYPED = re.compile(r"[\s\-]+")
_ISSUERS = re.compile(r"^(welcome|admin|(tier|campaign|staff):[A-Za-z0-9][A-Za-z0-9._:#/@\-]{0,127})$")
Kind = Literal["amount", "percent"]
State = Literal["available", "used", "expired"]
MAX_VALID_DAYS = 3650
MAX_PER_MEMBER = 1000


class CodeTaken(Exception):
    """A drawn code exists already (about once in 10^14 draws): draw another."""


def new_code() -> str:
    """Unguessable (about 50 bits), short enough to type or read out, no look-alike characters."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normal_code(typed: str) -> str | None:
    """The stored form of a code as a cashier or customer typed it (any case, spaces or dashes), or None
    when it cannot be one of ours (then nothing is read)."""
    code = _TYPED.sub("", typed or "").lower()
    if len(code) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in code):
        return None
    return code


def display_code(code: str) -> str:
    """Upper case reads best on a receipt and in a message; every case is accepted back."""
    return code.upper()


def valid_issuer(issued_by: str) -> bool:
    return bool(_ISSUERS.match(issued_by))


def staff_of(issued_by: str) -> str | None:
    """The staff member an issue counts against (their monthly cap), if a staff member gave it."""
    return issued_by.removeprefix("staff:") if issued_by.startswith("staff:") else None


def staff_month(at: datetime, zone: str) -> str:
    """A staff member's cap counts the brand's calendar month, as staff think of it."""
    return at.astimezone(ZoneInfo(zone)).strftime("%Y-%m")


@dataclass(frozen=True)
class CouponTemplate:
    template_id: str
    name: str
    kind: Kind
    value: Decimal
    min_spend: Decimal
    valid_days: int
    per_member_limit: int
    store_ids: tuple[str, ...] = ()
    created_at: datetime | None = None

    def problems(self) -> list[dict[str, object]]:
        """What makes the template unusable, by field (the API checks the shapes; this checks the offer)."""
        found: list[dict[str, object]] = []
        if self.kind not in ("amount", "percent"):
            found.append({"field": "kind", "problem": "amount or percent"})
        if not self.value.is_finite() or self.value <= 0:
            found.append({"field": "value", "problem": "must be more than 0"})
        elif self.kind == "percent" and self.value > 100:
            found.append({"field": "value", "problem": "a percentage is at most 100"})
        if not self.min_spend.is_finite() or self.min_spend < 0:
            found.append({"field": "min_spend", "problem": "must be 0 or more"})
        if not 1 <= self.valid_days <= MAX_VALID_DAYS:
            found.append({"field": "valid_days", "problem": f"from 1 to {MAX_VALID_DAYS} days"})
        if not 1 <= self.per_member_limit <= MAX_PER_MEMBER:
            found.append({"field": "per_member_limit", "problem": f"from 1 to {MAX_PER_MEMBER}"})
        if not self.name.strip():
            found.append({"field": "name", "problem": "must not be blank"})
        return found


def discount(kind: str, value: Decimal, order_total: Decimal | None) -> Decimal | None:
    """What the coupon takes off an order of ``order_total``: never more than the order, a percentage in
    whole units rounded down (in the brand's favour); None when the total is not known."""
    if order_total is None:
        return None
    off = (order_total * value / 100).quantize(Decimal(1), rounding=ROUND_DOWN) if kind == "percent" else value
    return max(Decimal(0), min(off, order_total))


@dataclass(frozen=True)
class Redemption:
    order_ref: str
    store_id: str | None
    at: datetime
    amount: Decimal | None = None  # the redeeming order's total (its revenue), when known


@dataclass(frozen=True)
class Coupon:
    code: str
    member_id: str
    template_id: str
    name: str
    kind: Kind
    value: Decimal
    min_spend: Decimal
    issued_at: datetime
    expires_at: datetime
    issued_by: str
    store_ids: tuple[str, ...] = ()
    campaign_id: str | None = None
    status: Literal["available", "redeemed"] = "available"
    redemption: Redemption | None = None

    def state(self, now: datetime) -> State:
        if self.status == "redeemed":
            return "used"
        return "expired" if now >= self.expires_at else "available"


def may_redeem(coupon: Coupon, order_ref: str, store_id: str | None, order_total: Decimal | None,
               now: datetime) -> bool:
    """True when the redemption is to be written; False when this very order already redeemed it (answer as
    before). Raises what the caller answers otherwise: used by another order 409, expired 410, not valid
    at this store or below the minimum spend 422."""
    if coupon.status == "redeemed":
        if coupon.redemption is not None and coupon.redemption.order_ref == order_ref:
            return False
        raise Conflict("this coupon was used by another order")
    if now >= coupon.expires_at:
        raise Gone("this coupon has expired")
    if coupon.store_ids and store_id not in coupon.store_ids:
        raise InvalidEvent("this coupon is not valid at this store",
                           [{"field": "store_id", "problem": "the coupon is valid only in some stores"}])
    if coupon.min_spend > 0:
        if order_total is None:
            raise InvalidEvent("this coupon needs the order's total", [
                {"field": "order_total", "problem": f"needed: the minimum spend is {coupon.min_spend}"}])
        if order_total < coupon.min_spend:
            raise InvalidEvent("the order is below the coupon's minimum spend",
                               [{"field": "order_total", "problem": f"at least {coupon.min_spend}"}])
    return True
