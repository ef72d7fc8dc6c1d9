"""Store and staff dashboards kept as rollups: pure rules, no AWS.

A *scope* is ``store:<id>`` or ``staff:<id>``. Each scope has one totals item and one item per month
(``(scope, None)`` and ``(scope, "YYYY-MM")`` here, :mod:`omo2c.dashboards.storage` names them), holding
counters only. Bus events change small *state* records, one per member and one per order, and every
change of a state adds to the counters exactly what the state's contribution changed by:

    counters = Σ contribution(member state) + Σ contribution(order state) + Σ events counted once

so whatever order events arrive in and however often, the counters are what the final states (and
the set of once-counted events) contribute — :func:`member_contributions` and
:func:`order_contributions` say what that is.

* **Orders**: an order state keeps the last applied ``version``; an older or equal version changes
  nothing. A counted (open) POS order adds to ``pos_orders`` / ``pos_amount_<currency>`` (its net kept)
  of its store's and its checkout staff member's month. Every counted order adds to its member's
  orders by month and channel and spend by month (net kept, per currency).
* **Members**: one state per member: home store (the store of ``member.created``, moved by the store of a
  newer ``member.bound``; newest time wins, a binding wins a tie), bound staff (the newest
  ``member.bound``, cleared by a ``member.unbound`` of that staff member that is newer), the month
  joined, and what its orders say. A member counts in its home store scope and its bound staff scope:
  ``members``, ``bound`` (has a bound staff member), ``joined_<YYYYMM>``, ``first_<YYYYMM>`` and
  ``last_<YYYYMM>`` (months of its first and last counted order), ``omo_<YYYYMM>`` (min of its last POS
  and last EC order months: the month it last had orders in both channels), and in the month items
  ``hist_<currency>_<bucket>_n/_sum``: its spend that month in a geometric bucket (4 a doubling).
  When its home store or staff changes, all of that moves with it in the same write. A member merged
  away contributes nothing more to its scopes (its orders keep counting in sales).
* **Spend history that moves**: a member's spend of the 13 months up to its last order month moves with
  the member; an older month stays where the member was when the month left that window (so a move
  touches at most 13 months × 4 scopes). Every figure is exact for any delivery order; the spend
  histogram of a month more than 12 months before a member's last order keeps that member's scope of
  back then.
* **Once-counted events**: a ``commission.recorded`` entry once per (source, order_id, seq) (EC
  entries add ``ec_amount_<currency>`` = the entry's base, ``ec_orders`` +1 on a sale, -1 on a
  cancellation, in the entry's store and staff month), a ``campaign.converted`` once per (campaign,
  run, order) (``conversions``, ``conversion_revenue_<currency>`` in the event's store and staff month),
  a binding once per (member, time, staff, store) (``new_bindings`` in its staff's and store's month).

Dashboards read one scope's totals and six month items and derive (month-granular, month M):

* NAPL (window W = 3 months): *new* — first order in M−2…M; *active* — last order in M−2…M, not new;
  *passive* — last order in M−5…M−3; *lost* — last order before M−5; *prospect* — no order. A month
  after M counts as within the window (only when looking back at a past month).
* OMO share: members whose OMO month ≥ M−11 over members whose last order month ≥ M−11.
* Top-20% revenue share: the month's spend histogram, buckets from the highest down, whole buckets
  until 20% of the buyers (rounded up), the bucket that crosses it at its mean (``exact`` false then);
  in the currency with the most buyers.
"""

from __future__ import annotations

import bisect
import copy
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from omo2c.events import (
    BusEvent,
    CampaignConverted,
    CommissionRecorded,
    MemberBound,
    MemberCreated,
    MemberMerged,
    MemberUnbound,
    OrderRecorded,
)
from omo2c.orders.model import OrderRecord

HISTORY_MONTHS = 13
TREND_MONTHS = 6
OMO_MONTHS = 12
BUCKETS_PER_DOUBLING = 4
TOP_SHARE = Decimal("0.2")
TRANSACTION_ITEMS = 100
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
ZERO = Decimal(0)
ONE = Decimal(1)

ItemKey = tuple[str, "str | None"]
"""(scope, month) of a counters item: month None is the scope's totals."""
Deltas = dict[ItemKey, dict[str, Decimal]]
OrderRef = tuple[str, str]


# ---------------------------------------------------------------------- months and scopes
def store_scope(store_id: str) -> str:
    return f"store:{store_id}"


def staff_scope(staff_id: str) -> str:
    return f"staff:{staff_id}"


def month_of(ms: int, zone: ZoneInfo) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=zone).strftime("%Y-%m")


def epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def shift(month: str, months: int) -> str:
    year, mon = int(month[:4]), int(month[5:7])
    index = year * 12 + mon - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def compact(month: str) -> str:
    return month.replace("-", "")


def month_bounds(month: str, zone: ZoneInfo) -> tuple[int, int]:
    """Epoch ms of the month's first instant and of the next month's, in ``zone``."""
    start = datetime(int(month[:4]), int(month[5:7]), 1, tzinfo=zone)
    following = shift(month, 1)
    end = datetime(int(following[:4]), int(following[5:7]), 1, tzinfo=zone)
    return epoch_ms(start), epoch_ms(end)


def bucket(amount: Decimal) -> int:
    """Geometric spend buckets, four a doubling: 0 below 1, then 1 + floor(4·log2(amount))."""
    if amount < ONE:
        return 0
    return 1 + math.floor(math.log2(float(amount)) * BUCKETS_PER_DOUBLING)


def _add(deltas: Deltas, key: ItemKey, name: str, value: Decimal | int) -> None:
    if value:
        counters = deltas.setdefault(key, {})
        counters[name] = counters.get(name, ZERO) + Decimal(value)


def combine(into: Deltas, more: Deltas, sign: int = 1) -> None:
    for key, counters in more.items():
        for name, value in counters.items():
            _add(into, key, name, value * sign)


def nonzero(deltas: Deltas) -> Deltas:
    out: Deltas = {}
    for key, counters in deltas.items():
        kept = {name: value for name, value in counters.items() if value != 0}
        if kept:
            out[key] = kept
    return out


# ---------------------------------------------------------------------- states
@dataclass(frozen=True)
class OrderFacts:
    """One recorded state of an order, as the dashboards count it."""

    source: str
    order_id: str
    version: str
    member_id: str | None
    channel: str
    store_id: str | None
    staff_id: str | None
    month: str
    currency: str
    counted: bool
    net: Decimal

    @classmethod
    def from_event(cls, event: OrderRecorded, zone: ZoneInfo) -> OrderFacts:
        placed = event.placed_at if event.placed_at is not None else epoch_ms(event.occurred_at)
        counted = event.status == "open"
        return cls(event.source, event.order_id, event.version, event.member_id or None, event.channel,
                   event.store_id, event.staff_id, month_of(placed, zone), event.currency.upper(), counted,
                   event.net_kept if counted else ZERO)

    @classmethod
    def from_record(cls, order: OrderRecord, zone: ZoneInfo) -> OrderFacts:
        """A stored order (its latest state), as its ``order.recorded`` said."""
        counted = order.status == "open"
        placed = order.placed_at if order.placed_at is not None else order.updated_at
        return cls(order.source, order.order_id, f"{order.version:08d}", order.member_id or None, order.channel,
                   order.store_id, order.staff_id, month_of(placed, zone), order.currency.upper(), counted,
                   order.net_kept if counted else ZERO)


@dataclass
class OrderState:
    """What the dashboards applied of one order: its last version, and the once-counted events about it."""

    source: str
    order_id: str
    version: str = ""
    member_id: str | None = None
    channel: str = ""
    store_id: str | None = None
    staff_id: str | None = None
    month: str = ""
    currency: str = "TWD"
    counted: bool = False
    net: Decimal = ZERO
    entries: list[int] = field(default_factory=list)
    conversions: list[str] = field(default_factory=list)
    stored: int = 0

    @property
    def ref(self) -> OrderRef:
        return self.source, self.order_id


@dataclass
class MemberState:
    """What the dashboards know of one member; ``stored`` is the version the write is conditioned on."""

    member_id: str
    joined: str | None = None
    created_at: int | None = None
    created_by: str = ""
    created_store: str | None = None
    home: tuple[int, str] | None = None
    bound: tuple[int, str] | None = None
    unbound: dict[str, int] = field(default_factory=dict)
    bindings: list[str] = field(default_factory=list)
    merged: bool = False
    orders: dict[str, dict[str, int]] = field(default_factory=dict)
    spend: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    frozen: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    stored: int = 0

    @property
    def home_store(self) -> str | None:
        """The store of creation, or of a newer binding that named a store (a binding wins a tie)."""
        candidates = []
        if self.created_store and self.created_at is not None:
            candidates.append((self.created_at, 0, self.created_store))
        if self.home is not None:
            candidates.append((self.home[0], 1, self.home[1]))
        return max(candidates)[2] if candidates else None

    @property
    def staff(self) -> str | None:
        """The staff member of the newest binding, unless that staff member's unbinding is newer."""
        if self.bound is None or not self.bound[1]:
            return None
        at, staff_id = self.bound
        return None if self.unbound.get(staff_id, -1) > at else staff_id

    def places(self) -> tuple[str | None, str | None]:
        return (None, None) if self.merged else (self.home_store, self.staff)

    def order_months(self, channel: str | None = None) -> list[str]:
        return sorted(m for m, counts in self.orders.items()
                      if (sum(counts.values()) if channel is None else counts.get(channel, 0)) > 0)

    @property
    def last_month(self) -> str | None:
        months = self.order_months()
        return months[-1] if months else None

    def window_start(self) -> str | None:
        last = self.last_month
        return shift(last, -(HISTORY_MONTHS - 1)) if last else None

    def add_order(self, facts: OrderFacts | OrderState, sign: int) -> None:
        """Count (sign 1) or uncount (sign -1) one counted order."""
        counts = self.orders.setdefault(facts.month, {})
        counts[facts.channel] = counts.get(facts.channel, 0) + sign
        if counts[facts.channel] == 0:
            del counts[facts.channel]
        if not counts:
            del self.orders[facts.month]
        amounts = self.spend.setdefault(facts.month, {})
        amounts[facts.currency] = amounts.get(facts.currency, ZERO) + facts.net * sign
        if amounts[facts.currency] == 0:
            del amounts[facts.currency]
        if not amounts:
            del self.spend[facts.month]

    def settle(self) -> None:
        """Months of spend leaving the 13-month window stay where the member is now; back in it, they follow."""
        start = self.window_start()
        for month in list(self.frozen):
            if month not in self.spend or (start is not None and month >= start):
                del self.frozen[month]
        if start is not None:
            for month in self.spend:
                if month < start and month not in self.frozen:
                    self.frozen[month] = self.places()


def _scopes(store_id: str | None, staff_id: str | None) -> list[str]:
    return ([store_scope(store_id)] if store_id else []) + ([staff_scope(staff_id)] if staff_id else [])


def member_contributions(member: MemberState) -> Deltas:
    """What one member adds to the counters of its scopes (see the module's docstring)."""
    out: Deltas = {}
    home, staff = member.places()
    scopes = _scopes(home, staff)
    months = member.order_months()
    pos, ec = member.order_months("pos"), member.order_months("ec")
    for scope in scopes:
        totals = (scope, None)
        _add(out, totals, "members", 1)
        _add(out, totals, "bound", 1 if staff else 0)
        if member.joined:
            _add(out, totals, f"joined_{compact(member.joined)}", 1)
        if months:
            _add(out, totals, f"first_{compact(months[0])}", 1)
            _add(out, totals, f"last_{compact(months[-1])}", 1)
        if pos and ec:
            _add(out, totals, f"omo_{compact(min(pos[-1], ec[-1]))}", 1)
    start = member.window_start()
    for month, amounts in member.spend.items():
        frozen = member.frozen.get(month)
        places = scopes if start is None or month >= start or frozen is None else _scopes(*frozen)
        for currency, amount in amounts.items():
            if amount <= 0:
                continue
            b = bucket(amount)
            for scope in places:
                _add(out, (scope, month), f"hist_{currency}_{b:03d}_n", 1)
                _add(out, (scope, month), f"hist_{currency}_{b:03d}_sum", amount)
    return out


def order_contributions(order: OrderState) -> Deltas:
    """A counted POS order's sale, in its store's and its checkout staff member's month."""
    out: Deltas = {}
    if order.version and order.counted and order.channel == "pos":
        for scope in _scopes(order.store_id, order.staff_id):
            _add(out, (scope, order.month), "pos_orders", 1)
            _add(out, (scope, order.month), f"pos_amount_{order.currency}", order.net)
    return out


# ---------------------------------------------------------------------- folding events
Fact = BusEvent | OrderFacts
"""What a fold applies: a bus event, or a stored order's facts (the rebuild)."""


def order_ref_of(event: Fact) -> OrderRef | None:
    if isinstance(event, (OrderRecorded, CommissionRecorded, CampaignConverted, OrderFacts)):
        return event.source, event.order_id
    return None


def member_of(event: Fact) -> str | None:
    if isinstance(event, (OrderRecorded, OrderFacts)):
        return event.member_id or None
    if isinstance(event, (MemberCreated, MemberBound, MemberUnbound)):
        return event.member_id
    if isinstance(event, MemberMerged):
        return event.absorbed_id
    return None


def needed(events: Iterable[Fact], orders: dict[OrderRef, OrderState] | None = None
           ) -> tuple[set[str], set[OrderRef]]:
    """The states a batch reads: each event's member and order, and (once the orders are read) the member an
    order was counted for before, when a new version names another."""
    members: set[str] = set()
    refs: set[OrderRef] = set()
    for event in events:
        if (member_id := member_of(event)) is not None:
            members.add(member_id)
        if (ref := order_ref_of(event)) is not None:
            refs.add(ref)
            known = (orders or {}).get(ref)
            if known is not None and known.member_id:
                members.add(known.member_id)
    return members, refs


@dataclass
class Chunk:
    """One transaction's worth: the states to write (each conditioned on its ``stored`` version) and the
    counters to add, for ``events`` consecutive events of the batch."""

    events: int
    members: list[MemberState]
    orders: list[OrderState]
    deltas: Deltas

    @property
    def items(self) -> int:
        return len(self.members) + len(self.orders) + len(self.deltas)


class Fold:
    """Applies events to states in memory and collects the counter changes they make."""

    def __init__(self, members: dict[str, MemberState], orders: dict[OrderRef, OrderState], zone: ZoneInfo) -> None:
        self.members, self.orders, self.zone = members, orders, zone
        self.deltas: Deltas = {}
        self.touched_members: set[str] = set()
        self.touched_orders: set[OrderRef] = set()
        self.events = 0

    def member(self, member_id: str) -> MemberState:
        return self.members.setdefault(member_id, MemberState(member_id))

    def order(self, ref: OrderRef) -> OrderState:
        return self.orders.setdefault(ref, OrderState(*ref))

    @property
    def items(self) -> int:
        return len(self.touched_members) + len(self.touched_orders) + len(nonzero(self.deltas))

    def chunk(self) -> Chunk:
        return Chunk(self.events, [self.members[m] for m in sorted(self.touched_members)],
                     [self.orders[o] for o in sorted(self.touched_orders)], nonzero(self.deltas))

    def _change_member(self, member_id: str, change: Any) -> bool:
        state = self.member(member_id)
        before_state = copy.deepcopy(state)
        before = member_contributions(state)
        change(state)
        state.settle()
        if state == before_state:
            return False
        combine(self.deltas, member_contributions(state))
        combine(self.deltas, before, -1)
        self.touched_members.add(member_id)
        return True

    def apply(self, event: Fact) -> str:
        self.events += 1
        if isinstance(event, OrderFacts):
            return self.order_recorded(event)
        if isinstance(event, OrderRecorded):
            return self.order_recorded(OrderFacts.from_event(event, self.zone))
        if isinstance(event, CommissionRecorded):
            return self._commission(event)
        if isinstance(event, CampaignConverted):
            return self._conversion(event)
        if isinstance(event, MemberCreated):
            return self._created(event)
        if isinstance(event, MemberBound):
            return self._bound(event)
        if isinstance(event, MemberUnbound):
            return self._unbound(event)
        if isinstance(event, MemberMerged):
            merged = self._change_member(event.absorbed_id, lambda m: setattr(m, "merged", True))
            return "merged" if merged else "already applied"
        return "not counted"

    def order_recorded(self, facts: OrderFacts) -> str:
        order = self.order((facts.source, facts.order_id))
        if order.version and int(facts.version) <= int(order.version):
            return "already applied"
        before = order_contributions(order)
        previous = copy.copy(order)
        member_facts = ("member_id", "channel", "month", "currency", "counted", "net")
        same_for_member = bool(order.version) and all(getattr(order, n) == getattr(facts, n) for n in member_facts)
        if order.version and order.counted and order.member_id and not same_for_member:
            self._change_member(order.member_id, lambda m: m.add_order(previous, -1))
        for name in ("version", "store_id", "staff_id", *member_facts):
            setattr(order, name, getattr(facts, name))
        if facts.counted and facts.member_id and not same_for_member:
            self._change_member(facts.member_id, lambda m: m.add_order(facts, 1))
        combine(self.deltas, order_contributions(order))
        combine(self.deltas, before, -1)
        self.touched_orders.add(order.ref)
        return "applied"

    def _commission(self, event: CommissionRecorded) -> str:
        order = self.order((event.source, event.order_id))
        if event.seq in order.entries:
            return "already applied"
        bisect.insort(order.entries, event.seq)
        self.touched_orders.add(order.ref)
        if event.channel != "ec":
            return "not an EC sale"
        count = 1 if event.kind == "sale" else -1 if event.kind == "cancellation" else 0
        for scope in _scopes(event.store_id, event.staff_id):
            _add(self.deltas, (scope, event.month), "ec_orders", count)
            _add(self.deltas, (scope, event.month), f"ec_amount_{event.currency.upper()}", event.base)
        return "applied"

    def _conversion(self, event: CampaignConverted) -> str:
        order = self.order((event.source, event.order_id))
        key = f"{event.campaign_id}#{event.run_id}"
        if key in order.conversions:
            return "already applied"
        bisect.insort(order.conversions, key)
        self.touched_orders.add(order.ref)
        month = month_of(epoch_ms(event.at), self.zone)
        for scope in _scopes(event.store_id, event.staff_id):
            _add(self.deltas, (scope, month), "conversions", 1)
            _add(self.deltas, (scope, month), f"conversion_revenue_{event.currency.upper()}", event.revenue)
        return "applied"

    def _created(self, event: MemberCreated) -> str:
        at = epoch_ms(event.occurred_at)

        def change(m: MemberState) -> None:
            if m.created_at is None or (at, event.event_id) < (m.created_at, m.created_by):
                m.created_at, m.created_by = at, event.event_id
                m.joined, m.created_store = month_of(at, self.zone), event.store_id

        return "applied" if self._change_member(event.member_id, change) else "already applied"

    def _bound(self, event: MemberBound) -> str:
        at = epoch_ms(event.bound_at)
        key = f"{at}#{event.staff_id or ''}#{event.store_id or ''}"
        if key in self.member(event.member_id).bindings:
            return "already applied"

        def change(m: MemberState) -> None:
            bisect.insort(m.bindings, key)
            if m.bound is None or (at, event.staff_id or "") > m.bound:
                m.bound = (at, event.staff_id or "")
            if event.store_id and (m.home is None or (at, event.store_id) > m.home):
                m.home = (at, event.store_id)

        self._change_member(event.member_id, change)
        month = month_of(at, self.zone)
        for scope in _scopes(event.store_id, event.staff_id):
            _add(self.deltas, (scope, month), "new_bindings", 1)
        return "applied"

    def _unbound(self, event: MemberUnbound) -> str:
        if not event.staff_id:
            return "not counted"
        at, staff_id = epoch_ms(event.at), event.staff_id

        def change(m: MemberState) -> None:
            if m.unbound.get(staff_id, -1) < at:
                m.unbound[staff_id] = at

        return "applied" if self._change_member(event.member_id, change) else "already applied"


def plan(events: Sequence[Fact], members: dict[str, MemberState], orders: dict[OrderRef, OrderState],
         zone: ZoneInfo, limit: int = TRANSACTION_ITEMS) -> list[Chunk]:
    """The batch as few transactions as fit ``limit`` items each (one, for a batch of ten orders). States
    written by one chunk are conditioned in the next on the version that chunk writes."""
    chunks: list[Chunk] = []
    fold = Fold(members, orders, zone)
    for event in events:
        trial = copy.deepcopy(fold)
        trial.apply(event)
        if trial.items > limit and fold.events:
            chunks.append(_close(fold))
            fold = Fold(fold.members, fold.orders, zone)
            fold.apply(event)
        else:
            fold = trial
    chunks.append(_close(fold))
    return [c for c in chunks if c.events]


def _close(fold: Fold) -> Chunk:
    chunk = copy.deepcopy(fold.chunk())
    for member_id in fold.touched_members:
        fold.members[member_id].stored += 1
    for ref in fold.touched_orders:
        fold.orders[ref].stored += 1
    return chunk


# ---------------------------------------------------------------------- reading
@dataclass(frozen=True)
class Rollups:
    """What one dashboard read returns: whether the store or staff record is there (and a staff member's
    store), the scope's totals and its month items by month."""

    found: bool
    store_id: str | None
    totals: dict[str, Decimal]
    months: dict[str, dict[str, Decimal]]


def amount_text(amount: Decimal) -> str:
    normal = amount.normalize()
    return f"{normal.quantize(ONE) if normal.as_tuple().exponent > 0 else normal:f}"  # type: ignore[operator]


def _amounts(counters: dict[str, Decimal], prefix: str) -> dict[str, str]:
    return {name[len(prefix):]: amount_text(value) for name, value in sorted(counters.items())
            if name.startswith(prefix)}


def _by_month(totals: dict[str, Decimal], prefix: str) -> dict[str, int]:
    """``first_202612`` style counters as {"2026-12": n}."""
    out = {}
    for name, value in totals.items():
        if name.startswith(prefix) and len(name) == len(prefix) + 6:
            digits = name[len(prefix):]
            out[f"{digits[:4]}-{digits[4:]}"] = int(value)
    return out


def _since(counts: dict[str, int], start: str, end: str | None = None) -> int:
    return sum(n for month, n in counts.items() if month >= start and (end is None or month <= end))


def napl(totals: dict[str, Decimal], month: str, window: int = 3) -> dict[str, int]:
    firsts, lasts = _by_month(totals, "first_"), _by_month(totals, "last_")
    recent = shift(month, -(window - 1))
    new = _since(firsts, recent)
    with_orders = sum(lasts.values())
    passive = _since(lasts, shift(month, -(2 * window - 1)), shift(month, -window))
    lost = sum(n for m, n in lasts.items() if m < shift(month, -(2 * window - 1)))
    return {"new": new, "active": _since(lasts, recent) - new, "passive": passive, "lost": lost,
            "prospect": int(totals.get("members", ZERO)) - with_orders}


def omo_share(totals: dict[str, Decimal], month: str) -> dict[str, Any]:
    start = shift(month, -(OMO_MONTHS - 1))
    both = _since(_by_month(totals, "omo_"), start)
    with_orders = _since(_by_month(totals, "last_"), start)
    return {"members_both_channels": both, "members_with_orders": with_orders,
            "share": round(both / with_orders, 4) if with_orders > 0 else None}


def histogram(counters: dict[str, Decimal]) -> dict[str, dict[int, tuple[int, Decimal]]]:
    """The month's spend buckets by currency: {currency: {bucket: (members, spend)}}."""
    found: dict[str, dict[int, list[Decimal]]] = {}
    for name, value in counters.items():
        if not name.startswith("hist_"):
            continue
        _, currency, index, part = name.split("_")
        slot = found.setdefault(currency, {}).setdefault(int(index), [ZERO, ZERO])
        slot[0 if part == "n" else 1] += value
    return {c: {b: (int(n), s) for b, (n, s) in buckets.items() if n > 0} for c, buckets in found.items()}


def top_share(counters: dict[str, Decimal]) -> dict[str, Any]:
    buckets_by_currency = histogram(counters)
    if not any(buckets_by_currency.values()):
        return {"share": None, "buyers": 0, "exact": True, "currency": None}
    currency = max(buckets_by_currency, key=lambda c: (sum(n for n, _ in buckets_by_currency[c].values()), c))
    buckets = buckets_by_currency[currency]
    buyers = sum(n for n, _ in buckets.values())
    total = sum((s for _, s in buckets.values()), ZERO)
    wanted = math.ceil(buyers * TOP_SHARE)
    taken, top, exact = 0, ZERO, True
    for index in sorted(buckets, reverse=True):
        if taken >= wanted:
            break
        n, s = buckets[index]
        if taken + n <= wanted:
            taken, top = taken + n, top + s
        else:
            top += s * (wanted - taken) / n
            taken, exact = wanted, False
    share = round(float(top / total), 4) if total > 0 else None
    return {"share": share, "buyers": buyers, "exact": exact, "currency": currency}


def dashboard(kind: str, scope_id: str, month: str, rollups: Rollups, napl_window: int = 3) -> dict[str, Any]:
    """The dashboard document of one scope and month (shape: :class:`omo2c.dashboards.api_models.Dashboard`)."""
    totals = rollups.totals
    this = rollups.months.get(month, {})

    def count(counters: dict[str, Decimal], name: str) -> int:
        return int(counters.get(name, ZERO))

    trend = []
    for back in range(TREND_MONTHS - 1, -1, -1):
        m = shift(month, -back)
        counters = rollups.months.get(m, {})
        trend.append({"month": m, "pos": _amounts(counters, "pos_amount_"),
                      "ec_credited": _amounts(counters, "ec_amount_"),
                      "new_members": count(totals, f"joined_{compact(m)}"),
                      "conversions": count(counters, "conversions")})
    return {
        "scope": kind, "id": scope_id, "month": month,
        "members": {"new": count(totals, f"joined_{compact(month)}"), "total": count(totals, "members")},
        "bindings": {"bound_customers": count(totals, "bound"), "new": count(this, "new_bindings")},
        "sales": {"pos": {"orders": count(this, "pos_orders"), "amount": _amounts(this, "pos_amount_")},
                  "ec_credited": {"orders": count(this, "ec_orders"), "amount": _amounts(this, "ec_amount_")}},
        "omo_share": omo_share(totals, month),
        "napl": napl(totals, month, napl_window),
        "top20_revenue_share": top_share(this),
        "campaigns": {"conversions": count(this, "conversions"),
                      "revenue": _amounts(this, "conversion_revenue_")},
        "trend": trend,
    }


def month_figures(month: str, orders: Iterable[OrderState], members: Iterable[MemberState]) -> Deltas:
    """The order-derived figures of one month (POS sales and the spend histogram) that these states contribute:
    what a rebuild writes over the month items."""
    out: Deltas = {}
    for order in orders:
        if order.month == month:
            combine(out, order_contributions(order))
    for member in members:
        for key, counters in member_contributions(member).items():
            if key[1] == month:
                for name, value in counters.items():
                    if name.startswith("hist_"):
                        _add(out, key, name, value)
    return out


def rebuilt_names(name: str) -> bool:
    """Counters a rebuild owns (and zeroes where no order gives them any more)."""
    return name.startswith(("pos_", "hist_"))
