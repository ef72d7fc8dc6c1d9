"""Who gets the credit for an order, and why: a rule trace a staff member can read.

Rules are tried in order and each try is recorded, matched or not, with its reason:
1. ``pos_checkout_staff`` - a POS order goes to the checkout staff member in the event;
2. ``referral_code`` - an explicit, still-valid staff code from a shared link;
3. ``active_binding`` - the member's staff binding, active and unexpired at the order's time;
otherwise nobody (``unattributed``). A staff member who has left hands the credit to their
transfer target (another staff member, or the store).

Referral codes are ``<code>``, ``<code>.<share epoch seconds>`` or
``<code>.<share epoch>.<click epoch>``: validity counts from the click when the link carried
it, else from the share, and a code with neither is taken as valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from omo2c.staff.model import Staff, StaffCode, credited_staff


@dataclass(frozen=True)
class OrderFacts:
    source: str
    order_id: str
    channel: str
    status: str
    version: str
    event_type: str
    member_id: str | None
    store_id: str | None
    staff_id: str | None
    referral_code: str | None
    placed_at: datetime
    net_kept: Decimal
    currency: str
    items: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_detail(cls, detail: dict[str, Any]) -> OrderFacts:
        placed = detail.get("placed_at")
        placed_at = (datetime.fromtimestamp(int(placed) / 1000, tz=UTC) if placed is not None
                     else datetime.fromisoformat(detail["occurred_at"]))
        return cls(
            source=str(detail["source"]), order_id=str(detail["order_id"]), channel=str(detail["channel"]),
            status=str(detail.get("status", "open")), version=str(detail["version"]),
            event_type=str(detail.get("event_type", "")), member_id=detail.get("member_id") or None,
            store_id=detail.get("store_id"), staff_id=detail.get("staff_id"),
            referral_code=detail.get("referral_code"), placed_at=placed_at,
            net_kept=Decimal(str(detail.get("net_kept", "0"))), currency=str(detail.get("currency", "TWD")),
            items=list(detail.get("items") or []),
        )


@dataclass(frozen=True)
class RuleTry:
    rule: str
    matched: bool
    reason: str


@dataclass(frozen=True)
class Credit:
    staff_id: str | None
    store_id: str | None
    rule: str
    trace: tuple[RuleTry, ...]

    @property
    def attributed(self) -> bool:
        return self.staff_id is not None or self.store_id is not None


class CreditLookups(Protocol):
    def staff(self, staff_id: str) -> Staff | None: ...

    def staff_many(self, staff_ids: set[str]) -> dict[str, Staff]: ...

    def code(self, code: str) -> StaffCode | None: ...

    def binding(self, member_id: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class AttributionPolicy:
    referral_valid_days: int = 7
    binding_expiry_days: int = 180


def parse_referral(value: str) -> tuple[str, datetime | None, datetime | None]:
    parts = value.strip().split(".")
    times = []
    for part in parts[1:3]:
        times.append(datetime.fromtimestamp(int(part), tz=UTC) if part.isdigit() else None)
    while len(times) < 2:
        times.append(None)
    return parts[0], times[0], times[1]


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _resolve(staff: Staff | None, lookups: CreditLookups) -> tuple[Staff | None, str | None, str]:
    """Follow departures to whoever took the customers over."""
    if staff is None or staff.active:
        return staff, None, ""
    chain = {staff.staff_id: staff}
    current = staff
    for _ in range(5):
        if current.transfer_to_staff_id and current.transfer_to_staff_id not in chain:
            nxt = lookups.staff(current.transfer_to_staff_id)
            if nxt is None:
                break
            chain[nxt.staff_id] = nxt
            if nxt.active:
                break
            current = nxt
        else:
            break
    target, store, hops = credited_staff(staff, chain)
    note = f"{' → '.join(hops)} left; " if hops else ""
    return target, store, note


def _credit_for(staff: Staff | None, fallback_store: str | None, rule: str, reason: str, trace: list[RuleTry],
                lookups: CreditLookups) -> Credit | None:
    target, store, note = _resolve(staff, lookups)
    if target is not None:
        trace.append(RuleTry(rule, True, f"{reason}; {note}credited to {target.staff_id}".replace("; ; ", "; ")))
        return Credit(target.staff_id, target.store_id or fallback_store, rule, tuple(trace))
    if store is not None:
        trace.append(RuleTry(rule, True, f"{reason}; {note}credited to store {store}"))
        return Credit(None, store, rule, tuple(trace))
    return None


def decide_credit(order: OrderFacts, lookups: CreditLookups, policy: AttributionPolicy) -> Credit:
    trace: list[RuleTry] = []

    if order.channel == "pos":
        if order.staff_id:
            staff = lookups.staff(order.staff_id)
            if staff is None:
                staff = Staff(order.staff_id, order.staff_id, order.store_id)
            credit = _credit_for(staff, order.store_id, "pos_checkout_staff",
                                 f"POS order checked out by {order.staff_id}", trace, lookups)
            if credit:
                return credit
        trace.append(RuleTry("pos_checkout_staff", False, "the POS order names no checkout staff member"))
    else:
        trace.append(RuleTry("pos_checkout_staff", False, f"not a POS order (channel {order.channel})"))

    if order.referral_code:
        code_text, shared_at, clicked_at = parse_referral(order.referral_code)
        code = lookups.code(code_text)
        window = timedelta(days=policy.referral_valid_days)
        start = clicked_at or shared_at
        if code is None:
            trace.append(RuleTry("referral_code", False, f"code '{code_text[:32]}' is not a staff code"))
        elif not code.active:
            trace.append(RuleTry("referral_code", False, f"code '{code_text}' was rotated and no longer credits"))
        elif start is not None and not (start - timedelta(minutes=5) <= order.placed_at <= start + window):
            since = "click" if clicked_at else "share"
            trace.append(RuleTry("referral_code", False,
                                 f"code '{code_text}' expired: ordered more than {policy.referral_valid_days} "
                                 f"days after the {since}"))
        else:
            since = "click" if clicked_at else "share" if shared_at else "no share or click time known"
            credit = _credit_for(lookups.staff(code.staff_id), order.store_id, "referral_code",
                                 f"code '{code_text}' of {code.staff_id} valid ({since})", trace, lookups)
            if credit:
                return credit
            trace.append(RuleTry("referral_code", False, f"staff {code.staff_id} of the code is unknown"))
    else:
        trace.append(RuleTry("referral_code", False, "no referral code on the order"))

    binding = lookups.binding(order.member_id) if order.member_id else None
    if not order.member_id:
        trace.append(RuleTry("active_binding", False, "the order has no member"))
    elif not binding or not binding.get("staff_id"):
        trace.append(RuleTry("active_binding", False, "the member is not bound to a staff member"))
    else:
        bound_at = _parse_time(binding.get("bound_at"))
        last = _parse_time(binding.get("last_interaction_at")) or bound_at
        expiry = timedelta(days=policy.binding_expiry_days)
        if bound_at is None or bound_at > order.placed_at:
            trace.append(RuleTry("active_binding", False, "the binding was made after the order"))
        elif last is not None and order.placed_at - last > expiry:
            trace.append(RuleTry("active_binding", False,
                                 f"the binding expired: no interaction for {policy.binding_expiry_days} days"))
        else:
            staff = lookups.staff(str(binding["staff_id"])) or Staff(str(binding["staff_id"]),
                                                                     str(binding["staff_id"]), binding.get("store_id"))
            credit = _credit_for(staff, binding.get("store_id"), "active_binding",
                                 f"member bound to {binding['staff_id']} since {bound_at.date().isoformat()}",
                                 trace, lookups)
            if credit:
                return credit

    trace.append(RuleTry("unattributed", True, "no rule matched"))
    return Credit(None, None, "unattributed", tuple(trace))
