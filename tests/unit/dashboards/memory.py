"""An in-memory stand-in for the dashboard store: the same version conditions and the same one-item-once rule
of a transaction, no AWS."""

from __future__ import annotations

import copy
from collections.abc import Iterable

from omo2c.core.errors import Conflict
from omo2c.core.settings import Settings
from omo2c.dashboards.model import (
    Chunk,
    Deltas,
    MemberState,
    OrderState,
    Rollups,
    combine,
    nonzero,
    staff_scope,
    store_scope,
)


class MemoryDashboardStore:
    def __init__(self, settings: Settings | None = None, stores: Iterable[str] = (),
                 staff: dict[str, str | None] | None = None) -> None:
        self.settings = settings or Settings()
        self.members: dict[str, MemberState] = {}
        self.orders: dict[tuple[str, str], OrderState] = {}
        self.counters: Deltas = {}
        self.stores, self.staff = set(stores), dict(staff or {})
        self.reads = self.commits = self.largest = 0
        self.fail_next_commits = 0
        self.before_commit = None  # a concurrent writer's turn, called once before the next commit

    def read_states(self, member_ids, refs):
        self.reads += 1
        members = {m: copy.deepcopy(self.members.get(m) or MemberState(m)) for m in member_ids}
        orders = {r: copy.deepcopy(self.orders.get(r) or OrderState(*r)) for r in refs}
        return members, orders

    def commit(self, chunk: Chunk) -> None:
        if self.before_commit is not None:
            turn, self.before_commit = self.before_commit, None
            turn()
        if self.fail_next_commits:
            self.fail_next_commits -= 1
            raise Conflict("injected")
        assert chunk.items <= 100, chunk.items
        for m in chunk.members:
            if m.stored != (self.members[m.member_id].stored if m.member_id in self.members else 0):
                raise Conflict("member changed")
        for o in chunk.orders:
            if o.stored != (self.orders[o.ref].stored if o.ref in self.orders else 0):
                raise Conflict("order changed")
        self.commits += 1
        self.largest = max(self.largest, chunk.items)
        for m in chunk.members:
            kept = copy.deepcopy(m)
            kept.stored += 1
            self.members[m.member_id] = kept
        for o in chunk.orders:
            kept = copy.deepcopy(o)
            kept.stored += 1
            self.orders[o.ref] = kept
        combine(self.counters, chunk.deltas)

    def rollups(self, kind, scope_id, months):
        self.reads += 1
        scope = store_scope(scope_id) if kind == "store" else staff_scope(scope_id)
        found = scope_id in (self.stores if kind == "store" else self.staff)
        return Rollups(found, self.staff.get(scope_id) if kind == "staff" else None,
                       dict(self.counters.get((scope, None), {})),
                       {m: dict(self.counters.get((scope, m), {})) for m in months})

    def month_sources(self, month, start_ms, end_ms):
        raise NotImplementedError

    def overwrite(self, figures: Deltas) -> int:
        for key, counters in figures.items():
            self.counters.setdefault(key, {}).update(counters)
        return len(figures)

    def figures(self) -> Deltas:
        return nonzero(self.counters)
