"""Crediting orders to staff: decide once, then keep the ledger exact for every new version."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from omo2c.access.model import ADMIN, NOT_YOURS, Principal, require_staff_member, require_store
from omo2c.attribution.ledger import Attribution, Entry, Rates, commission, next_entry, now_utc, statement
from omo2c.attribution.rules import (
    AttributionPolicy,
    Credit,
    CreditLookups,
    OrderFacts,
    decide_credit,
    keeps_binding_alive,
    may_keep_a_binding_alive,
)
from omo2c.core.errors import Conflict, Forbidden, InvalidEvent, NotFound
from omo2c.events import BusEvent, CommissionRecorded, OrderRecorded
from omo2c.members.model import Member

MAX_ATTEMPTS = 8
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class LedgerPort(Protocol):
    def load(self, source: str, order_id: str) -> tuple[Attribution | None, list[Entry]]: ...

    def commit(self, attribution: Attribution, previous: Attribution | None, entry: Entry | None,
               entry_count: int) -> None: ...

    def staff_entries(self, staff_id: str, month: str) -> list[Entry]: ...

    def store_entries(self, store_id: str, month: str) -> list[Entry]: ...


class BindingInteractions(Protocol):
    """The member writes attribution needs: a buying customer's binding is touched, conditioned on the
    member's version like every other member write."""

    def get_member(self, member_id: str) -> Member | None: ...

    def touch(self, member: Member, at: datetime) -> None: ...


class CommissionService:
    def __init__(self, ledger: LedgerPort, lookups: CreditLookups, rates: Rates, policy: AttributionPolicy,
                 holding_days: int, clock: Callable[[], datetime] = now_utc,
                 interactions: BindingInteractions | None = None,
                 publish: Callable[[list[BusEvent]], None] | None = None) -> None:
        self.ledger, self.lookups, self.rates, self.policy = ledger, lookups, rates, policy
        self.holding_days, self.clock, self.interactions = holding_days, clock, interactions
        self.publish = publish

    def record(self, event: OrderRecorded) -> str:
        """Apply one ``order.recorded``; redeliveries and older versions change nothing."""
        order = OrderFacts.from_event(event)
        if order.status == "pending":
            return "waiting for the order itself"
        for _ in range(MAX_ATTEMPTS):
            previous, entries = self.ledger.load(order.source, order.order_id)
            if previous is not None and previous.applied_version >= order.version:
                if previous.applied_version == order.version:
                    self._announce(order, [e for e in entries if e.version == order.version])
                return "already applied"
            now = self.clock()
            credit = previous.credit if previous else decide_credit(order, self.lookups, self.policy)
            if previous is None:
                # Before the ledger commit: a crash in between is redelivered and touches again (a no-op).
                self._keep_binding_alive(order, credit)
            entry = next_entry(order, credit, entries, self.rates, now, self.holding_days)
            target, _ = commission(order, self.rates) if credit.attributed else (0, "")
            attribution = Attribution(order.source, order.order_id, credit, order.version,
                                      previous.decided_at if previous else now, order.net_kept, target,
                                      order.currency)
            try:
                self.ledger.commit(attribution, previous, entry, len(entries))
            except Conflict:
                continue
            self._announce(order, [entry] if entry else [])
            return "entry appended" if entry else "no change"
        raise Conflict(f"{order.source}/{order.order_id} kept changing")

    def _announce(self, order: OrderFacts, entries: list[Entry]) -> None:
        """One ``commission.recorded`` per entry appended. A redelivery of the version applied last announces
        that version's entry again, in case the publish was lost: the same entry, which consumers apply once per
        (source, order_id, seq)."""
        if self.publish is None or not entries:
            return
        self.publish([CommissionRecorded(
            source=e.source, order_id=e.order_id, seq=e.seq, kind=e.kind, channel=order.channel,
            staff_id=e.staff_id, store_id=e.store_id, month=e.month, base=e.base, currency=e.currency,
            at=e.created_at) for e in entries])

    def _keep_binding_alive(self, order: OrderFacts, credit: Credit) -> None:
        """The binding's last interaction moves forward to the order's time, never back, so any delivery
        order ends the same; a concurrent member write makes it read again."""
        if self.interactions is None or not order.member_id or not may_keep_a_binding_alive(order, credit):
            return
        for _ in range(MAX_ATTEMPTS):
            member = self.interactions.get_member(order.member_id)
            binding = member.binding if member else None
            if member is None or binding is None or not keeps_binding_alive(order, credit, binding) \
                    or binding.last_activity >= order.placed_at:
                return
            try:
                self.interactions.touch(member, order.placed_at)
                return
            except Conflict:
                continue
        raise Conflict(f"member of {order.source}/{order.order_id} kept changing")

    def explain(self, source: str, order_id: str) -> dict[str, Any]:
        attribution, entries = self.ledger.load(source, order_id)
        if attribution is None:
            raise NotFound("no attribution recorded for this order")
        now = self.clock()
        credit = attribution.credit
        return {
            "source": source, "order_id": order_id, "rule": credit.rule, "staff_id": credit.staff_id,
            "store_id": credit.store_id, "decided_at": attribution.decided_at.isoformat(),
            "applied_version": attribution.applied_version, "net_kept": str(attribution.net_kept),
            "commission": str(attribution.commission), "currency": attribution.currency,
            "trace": [{"rule": t.rule, "matched": t.matched, "reason": t.reason} for t in credit.trace],
            "entries": statement({}, "", entries, now, self.holding_days)["lines"],
        }

    def staff_statement(self, staff_id: str, month: str, caller: Principal = ADMIN) -> dict[str, Any]:
        """The admin's, the staff member's own, or their store manager's to see."""
        _check_month(month)
        if not caller.is_admin and caller.staff_id != staff_id:
            staff = self.lookups.staff(staff_id)
            if staff is None:
                raise Forbidden(NOT_YOURS)
            require_staff_member(caller, staff_id, staff.store_id)
        return statement({"staff_id": staff_id}, month, self.ledger.staff_entries(staff_id, month), self.clock(),
                         self.holding_days)

    def store_statement(self, store_id: str, month: str, caller: Principal = ADMIN) -> dict[str, Any]:
        _check_month(month)
        require_store(caller, store_id)
        return statement({"store_id": store_id}, month, self.ledger.store_entries(store_id, month), self.clock(),
                         self.holding_days)


def _check_month(month: str) -> None:
    if not MONTH.match(month or ""):
        raise InvalidEvent("month must be YYYY-MM", [{"field": "month", "problem": "expected YYYY-MM"}])
