"""Store and staff dashboards: bus events folded into rollups a batch at a time, and read in one request.

A queue batch is read once (its state items), folded in memory and written in one transaction
conditioned on every state it changes. A concurrent consumer that changed one of them first cancels
the transaction: the batch is read and folded again (a few times), and then one event at a time, so
only an event that keeps failing goes back to the queue.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from omo2c.access.model import NOT_YOURS, Principal, Role, require_staff_member, require_store
from omo2c.core.errors import Conflict, Forbidden, InvalidEvent, NotFound
from omo2c.core.observability import logger
from omo2c.core.settings import Settings
from omo2c.dashboards.model import (
    TREND_MONTHS,
    Chunk,
    Deltas,
    Fact,
    ItemKey,
    MemberState,
    OrderFacts,
    OrderRef,
    OrderState,
    Rollups,
    dashboard,
    month_bounds,
    month_figures,
    needed,
    plan,
    rebuilt_names,
    shift,
)
from omo2c.events import BusEvent
from omo2c.orders.model import OrderRecord

MAX_ATTEMPTS = 4
REBUILD_BATCH = 25
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class DashboardPort(Protocol):
    settings: Settings

    def read_states(self, member_ids: Iterable[str], refs: Iterable[OrderRef]
                    ) -> tuple[dict[str, MemberState], dict[OrderRef, OrderState]]: ...

    def commit(self, chunk: Chunk) -> None: ...

    def rollups(self, kind: str, scope_id: str, months: list[str]) -> Rollups: ...

    def month_sources(self, month: str, start_ms: int, end_ms: int
                      ) -> tuple[list[OrderRecord], dict[ItemKey, dict[str, Decimal]]]: ...

    def overwrite(self, figures: Deltas) -> int: ...


def now_utc() -> datetime:
    return datetime.now(tz=UTC)


def check_month(month: str) -> str:
    if not MONTH.match(month or ""):
        raise InvalidEvent("month must be YYYY-MM", [{"field": "month", "problem": "expected YYYY-MM"}])
    return month


class Dashboards:
    def __init__(self, store: DashboardPort, clock: Callable[[], datetime] = now_utc,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.store, self.clock, self.sleep = store, clock, sleep
        self.zone = ZoneInfo(store.settings.time_zone)
        self.napl_window = max(1, round(store.settings.napl_window_days / 30))

    # ------------------------------------------------------------------ the bus
    def record(self, events: Sequence[tuple[str, BusEvent]]) -> list[str]:
        """Apply a queue batch of (message id, event); the ids of the events that could not be applied."""
        if not events:
            return []
        try:
            self.apply([event for _, event in events])
            return []
        except Exception as exc:  # whatever it was, the events are tried one at a time next
            logger.info("dashboard batch failed: one event at a time",
                        extra={"events": len(events), "error_type": type(exc).__name__})
        failed = []
        for message_id, event in events:
            try:
                self.apply([event])
            except Exception as exc:  # this record fails alone: SQS retries it, then its DLQ keeps it
                logger.warning("dashboard event failed", extra={"message_id": message_id, "error_type":
                                                                type(exc).__name__, "detail_type": event.DETAIL_TYPE})
                failed.append(message_id)
        return failed

    def apply(self, events: Sequence[Fact]) -> int:
        """Read the batch's states once, fold, write each chunk in one transaction; on a conflict read the
        events not yet written again. Returns the transactions written."""
        pending, written = list(events), 0
        for attempt in range(MAX_ATTEMPTS):
            members, orders = self._read(pending)
            done = 0
            try:
                for chunk in plan(pending, members, orders, self.zone):
                    if chunk.items:
                        self.store.commit(chunk)
                        written += 1
                    done += chunk.events
            except Conflict:
                pending = pending[done:]
                self.sleep(random.uniform(0, 0.01 * (attempt + 1)))  # noqa: S311 - jitter, not crypto
                continue
            return written
        raise Conflict("dashboard states kept changing")

    def _read(self, events: Sequence[Fact]) -> tuple[dict[str, MemberState], dict[OrderRef, OrderState]]:
        member_ids, refs = needed(events)
        members, orders = self.store.read_states(member_ids, refs)
        more, _ = needed(events, orders)
        if more - set(members):  # an order counted before for a member the new version does not name
            extra, _ = self.store.read_states(more - set(members), ())
            members |= extra
        return members, orders

    # ------------------------------------------------------------------ the dashboards
    def current_month(self) -> str:
        return self.clock().astimezone(self.zone).strftime("%Y-%m")

    def store_kpis(self, store_id: str, month: str | None, caller: Principal) -> dict[str, Any]:
        """The admin's or the store's manager's to see."""
        require_store(caller, store_id)
        month = check_month(month or self.current_month())
        rollups = self._rollups("store", store_id, month)
        if not rollups.found:
            raise NotFound("no such store")
        return dashboard("store", store_id, month, rollups, self.napl_window)

    def staff_kpis(self, staff_id: str, month: str | None, caller: Principal) -> dict[str, Any]:
        """The admin's, the staff member's own, or their store's manager's to see: a record out of scope looks
        like one that is not there."""
        own = caller.is_admin or caller.staff_id == staff_id
        if not own and caller.role is not Role.MANAGER:
            raise Forbidden(NOT_YOURS)
        month = check_month(month or self.current_month())
        rollups = self._rollups("staff", staff_id, month)
        if not rollups.found:
            if not own:
                raise Forbidden(NOT_YOURS)
            raise NotFound("no such staff member")
        require_staff_member(caller, staff_id, rollups.store_id)
        return dashboard("staff", staff_id, month, rollups, self.napl_window)

    def _rollups(self, kind: str, scope_id: str, month: str) -> Rollups:
        return self.store.rollups(kind, scope_id, [shift(month, -back) for back in range(TREND_MONTHS - 1, -1, -1)])

    # ------------------------------------------------------------------ the rebuild
    def rebuild(self, month: str) -> dict[str, Any]:
        """``omo2c rebuild-kpis``: the month's orders and month items (one filtered Scan), then
        :meth:`rebuild_month`."""
        check_month(month)
        orders, items = self.store.month_sources(month, *month_bounds(month, self.zone))
        return self.rebuild_month(month, orders, items)

    def rebuild_month(self, month: str, orders: Sequence[OrderRecord],
                      items: dict[ItemKey, dict[str, Decimal]] | None = None) -> dict[str, Any]:
        """Recompute the month's order-derived figures (POS sales and the spend histograms) from the stored
        orders of that month and write them over the month items.

        First each stored order is applied like its ``order.recorded`` (a version not applied yet — a lost
        event, or orders from before the dashboards existed — is applied now, with everything it moves);
        then the month's POS and histogram counters are set to what the orders' and their members' states
        contribute, and such counters no order gives any more are set to 0. Members, bindings, EC credit
        and conversions come from their own events and are left as they are. A consumer adding to the same
        month while the figures are written may be overwritten: run it while the queue is quiet (running it
        again changes nothing)."""
        check_month(month)
        facts = [OrderFacts.from_record(o, self.zone) for o in orders if o.placed_at is not None]
        facts = [f for f in facts if f.month == month]
        for start in range(0, len(facts), REBUILD_BATCH):
            self.apply(facts[start:start + REBUILD_BATCH])
        states_of: dict[OrderRef, OrderState] = {}
        members_of: dict[str, MemberState] = {}
        for start in range(0, len(facts), REBUILD_BATCH * 2):
            page = facts[start:start + REBUILD_BATCH * 2]
            members, states = self.store.read_states({f.member_id for f in page if f.member_id},
                                                     {(f.source, f.order_id) for f in page})
            members_of |= members
            states_of |= states
        figures = month_figures(month, states_of.values(), members_of.values())
        for key, counters in (items or {}).items():
            for name in counters:
                if rebuilt_names(name) and name not in figures.get(key, {}):
                    figures.setdefault(key, {})[name] = Decimal(0)
        written = self.store.overwrite(figures)
        return {"month": month, "orders": len(facts), "members": len(members_of), "items_written": written}
