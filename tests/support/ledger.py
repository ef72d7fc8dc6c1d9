"""In-memory ledger and lookups with the same conditions as DynamoDB, for fast unit tests."""

from __future__ import annotations

from omo2c.attribution.ledger import Attribution, Entry
from omo2c.core.errors import Conflict
from omo2c.staff.model import Staff, StaffCode


class MemoryLedger:
    def __init__(self) -> None:
        self.attributions: dict[tuple[str, str], Attribution] = {}
        self.entries: dict[tuple[str, str], list[Entry]] = {}

    def load(self, source, order_id):
        key = (source, order_id)
        return self.attributions.get(key), list(self.entries.get(key, []))

    def commit(self, attribution, previous, entry, entry_count):
        key = (attribution.source, attribution.order_id)
        current = self.attributions.get(key)
        if current != previous or len(self.entries.get(key, [])) != entry_count:
            raise Conflict("changed")
        self.attributions[key] = attribution
        if entry is not None:
            self.entries.setdefault(key, []).append(entry)

    def staff_entries(self, staff_id, month):
        return [e for es in self.entries.values() for e in es if e.staff_id == staff_id and e.month == month]

    def store_entries(self, store_id, month):
        return [e for es in self.entries.values() for e in es if e.store_id == store_id and e.month == month]


class Lookups:
    def __init__(self, staff=(), codes=(), bindings=None) -> None:
        self.staff_by_id = {s.staff_id: s for s in staff}
        self.codes = {c.code: c for c in codes}
        self.bindings = bindings or {}

    def staff(self, staff_id) -> Staff | None:
        return self.staff_by_id.get(staff_id)

    def code(self, code) -> StaffCode | None:
        return self.codes.get(code)

    def binding(self, member_id):
        return self.bindings.get(member_id)
