"""Who gets the credit for an order, and why: a rule trace a staff member can read.

Rules are tried in order and each try is recorded, matched or not, with its reason:
1. ``pos_checkout_staff`` - a POS order goes to the checkout staff member in the event;
2. ``referral_code`` - an explicit, still-valid staff code from a shared link;
3. ``active_binding`` - the member's staff binding, active and unexpired at the order's time;
otherwise nobody (``unattributed``). A staff member who has left hands the credit to their
transfer target (another staff member, or the store). An order credited through the binding, or
a POS sale by the bound staff member, keeps the binding alive (:func:`keeps_binding_alive`).

Referral codes are ``<code>``, ``<code>.<share epoch seconds>`` or
``<code>.<share epoch>.<click epoch>``: validity counts from the click when the link carried
it, else from the share, and a code with neither is taken as valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from omo2c.binding.model import Binding, BindingPolicy
from omo2c.events import OrderRecorded
from omo2c.staff.model import Staff, StaffCode, follow_departures


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
    def from_event(cls, event: OrderRecorded) -> OrderFacts:
        placed_at = (datetime.fromtimestamp(event.placed_at / 1000, tz=UTC) if event.placed_at is not None
                     else event.occurred_at)
        return cls(
            source=event.source, order_id=event.order_id, channel=event.channel, status=event.status,
            version=event.version, event_type=event.event_type, member_id=event.member_id or None,
            store_id=event.store_id, staff_id=event.staff_id, referral_code=event.referral_code,
            placed_at=placed_at, net_kept=event.net_kept, currency=event.currency, items=list(event.items),
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

    def code(self, code: str) -> StaffCode | None: ...

    def binding(self, member_id: str) -> Binding | None: ...


@dataclass(frozen=True)
class AttributionPolicy:
    referral_valid_days: int = 7
    binding: BindingPolicy = field(default_factory=BindingPolicy)


def parse_referral(value: str) -> tuple[str, datetime | None, datetime | None]:
    parts = value.strip().split(".")
    times = []
    for part in parts[1:3]:
        times.append(datetime.fromtimestamp(int(part), tz=UTC) if part.isdigit() else None)
    while len(times) < 2:
        times.append(None)
    return parts[0], times[0], times[1]


def _credit_for(staff: Staff | None, fallback_store: str | None, rule: str, reason: str, trace: list[RuleTry],
                lookups: CreditLookups) -> Credit | None:
    """Credit the staff member, or whoever took their customers over when they left."""
    handover = follow_departures(staff, lookups.staff)
    note = f"{' → '.join(handover.hops)} left; " if handover.hops else ""
    if handover.staff is not None:
        target = handover.staff
        trace.append(RuleTry(rule, True, f"{reason}; {note}credited to {target.staff_id}"))
        return Credit(target.staff_id, target.store_id or fallback_store, rule, tuple(trace))
    if handover.store_id is not None:
        trace.append(RuleTry(rule, True, f"{reason}; {note}credited to store {handover.store_id}"))
        return Credit(None, handover.store_id, rule, tuple(trace))
    return None


def may_keep_a_binding_alive(order: OrderFacts, credit: Credit) -> bool:
    """Whether the order can be an interaction with any binding, asked before the member is read."""
    return credit.rule == "active_binding" or (order.channel == "pos" and bool(order.staff_id))


def keeps_binding_alive(order: OrderFacts, credit: Credit, binding: Binding | None) -> bool:
    """An order credited through the binding, or a POS sale by the bound staff member, is an interaction.

    Only for a binding made before the order (a later rebinding is someone else's); whether the
    binding then counts is still :meth:`Binding.is_active`'s decision alone."""
    if binding is None or not binding.staff_id or binding.bound_at > order.placed_at:
        return False
    if credit.rule == "active_binding":
        return True
    return order.channel == "pos" and order.staff_id == binding.staff_id


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
    elif binding is None or not binding.staff_id:
        trace.append(RuleTry("active_binding", False, "the member is not bound to a staff member"))
    elif binding.bound_at > order.placed_at:
        trace.append(RuleTry("active_binding", False, "the binding was made after the order"))
    elif not binding.is_active(order.placed_at, policy.binding):
        trace.append(RuleTry("active_binding", False,
                             f"the binding expired: no interaction for {policy.binding.expiry_days} days"))
    else:
        staff = lookups.staff(binding.staff_id) or Staff(binding.staff_id, binding.staff_id, binding.store_id)
        credit = _credit_for(staff, binding.store_id, "active_binding",
                             f"member bound to {binding.staff_id} since {binding.bound_at.date().isoformat()}",
                             trace, lookups)
        if credit:
            return credit

    trace.append(RuleTry("unattributed", True, "no rule matched"))
    return Credit(None, None, "unattributed", tuple(trace))
