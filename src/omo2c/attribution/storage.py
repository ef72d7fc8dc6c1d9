"""The ledger table: per order, its attribution decision and its append-only entries.

pk=ORDER#<source>#<order_id>; sk=ATTRIBUTION holds the decision and the last applied order
version; sk=ENTRY#<seq> are the entries. Statements read the ByStaffMonth / ByStoreMonth
indexes (staff or store + month of the entry), never the table.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pynamodb.attributes import BooleanAttribute, ListAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from omo2c.attribution.ledger import Attribution, Entry
from omo2c.attribution.rules import Credit, RuleTry
from omo2c.core.dynamo import DecimalAttribute, configure
from omo2c.core.errors import Conflict
from omo2c.core.settings import Settings


class _LedgerTable(Model):
    class Meta:
        table_name = "omo2c-ledger"
        region = "ap-northeast-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class ByStaffMonth(GlobalSecondaryIndex["EntryItem"]):
    class Meta:
        index_name = "ByStaffMonth"
        projection = AllProjection()

    staff_month = UnicodeAttribute(hash_key=True)
    entry_key = UnicodeAttribute(range_key=True)


class ByStoreMonth(GlobalSecondaryIndex["EntryItem"]):
    class Meta:
        index_name = "ByStoreMonth"
        projection = AllProjection()

    store_month = UnicodeAttribute(hash_key=True)
    entry_key = UnicodeAttribute(range_key=True)


class EntryItem(_LedgerTable):
    seq = NumberAttribute()
    source = UnicodeAttribute()
    order_id = UnicodeAttribute()
    version = UnicodeAttribute()
    staff_id = UnicodeAttribute(null=True)
    store_id = UnicodeAttribute(null=True)
    kind = UnicodeAttribute()
    base = DecimalAttribute()
    amount = DecimalAttribute()
    currency = UnicodeAttribute()
    rule = UnicodeAttribute()
    rate_rule = UnicodeAttribute()
    created_at = UnicodeAttribute()
    clawback = BooleanAttribute(default=False)
    staff_month = UnicodeAttribute(null=True)
    store_month = UnicodeAttribute(null=True)
    entry_key = UnicodeAttribute()
    by_staff = ByStaffMonth()
    by_store = ByStoreMonth()


class AttributionItem(_LedgerTable):
    staff_id = UnicodeAttribute(null=True)
    store_id = UnicodeAttribute(null=True)
    rule = UnicodeAttribute()
    trace = ListAttribute(of=MapAttribute, default=list)
    applied_version = UnicodeAttribute()
    decided_at = UnicodeAttribute()
    net_kept = DecimalAttribute(default=lambda: Decimal(0))
    commission = DecimalAttribute(default=lambda: Decimal(0))
    currency = UnicodeAttribute(default="TWD")
    entry_count = NumberAttribute(default=0)


LEDGER_MODELS = (EntryItem, AttributionItem)


def _order_pk(source: str, order_id: str) -> str:
    return f"ORDER#{source}#{order_id}"


def _entry(item: EntryItem) -> Entry:
    return Entry(int(item.seq), item.source, item.order_id, item.version, item.staff_id, item.store_id, item.kind,
                 item.base, item.amount, item.currency, item.rule, item.rate_rule,
                 datetime.fromisoformat(item.created_at), bool(item.clawback))


def _plain(value: Any) -> Any:
    return value.as_dict() if hasattr(value, "as_dict") else value


class LedgerStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        configure(self.settings, LEDGER_MODELS, self.settings.ledger_table)

    def load(self, source: str, order_id: str) -> tuple[Attribution | None, list[Entry]]:
        """One consistent query: the decision and every entry of the order."""
        attribution = None
        entries = []
        for raw in EntryItem._get_connection().query(_order_pk(source, order_id), consistent_read=True)["Items"]:
            if raw["sk"]["S"] == "ATTRIBUTION":
                item = AttributionItem.from_raw_data(raw)
                trace = tuple(RuleTry(str(t["rule"]), bool(t["matched"]), str(t["reason"]))
                              for t in (_plain(t) for t in item.trace))
                attribution = Attribution(source, order_id, Credit(item.staff_id, item.store_id, item.rule, trace),
                                          item.applied_version, datetime.fromisoformat(item.decided_at),
                                          item.net_kept, item.commission, item.currency)
            elif raw["sk"]["S"].startswith("ENTRY#"):
                entries.append(_entry(EntryItem.from_raw_data(raw)))
        return attribution, sorted(entries, key=lambda e: e.seq)

    def commit(self, attribution: Attribution, previous: Attribution | None, entry: Entry | None,
               entry_count: int) -> None:
        pk = _order_pk(attribution.source, attribution.order_id)
        item = AttributionItem(
            pk, "ATTRIBUTION", staff_id=attribution.credit.staff_id, store_id=attribution.credit.store_id,
            rule=attribution.credit.rule,
            trace=[{"rule": t.rule, "matched": t.matched, "reason": t.reason} for t in attribution.credit.trace],
            applied_version=attribution.applied_version, decided_at=attribution.decided_at.isoformat(),
            net_kept=attribution.net_kept, commission=attribution.commission, currency=attribution.currency,
            entry_count=entry_count + (1 if entry else 0))
        condition = (AttributionItem.pk.does_not_exist() if previous is None
                     else (AttributionItem.applied_version == previous.applied_version)
                     & (AttributionItem.entry_count == entry_count))
        try:
            with TransactWrite(connection=AttributionItem._get_connection().connection) as tx:
                tx.save(item, condition=condition)
                if entry is not None:
                    tx.save(self._entry_item(pk, entry), condition=EntryItem.pk.does_not_exist())
        except TransactWriteError as exc:
            raise Conflict("the order's ledger changed concurrently") from exc

    @staticmethod
    def _entry_item(pk: str, entry: Entry) -> EntryItem:
        return EntryItem(
            pk, f"ENTRY#{entry.seq:05d}", seq=entry.seq, source=entry.source, order_id=entry.order_id,
            version=entry.version, staff_id=entry.staff_id, store_id=entry.store_id, kind=entry.kind,
            base=entry.base, amount=entry.amount, currency=entry.currency, rule=entry.rule,
            rate_rule=entry.rate_rule, created_at=entry.created_at.isoformat(), clawback=entry.clawback,
            staff_month=f"{entry.staff_id}#{entry.month}" if entry.staff_id else None,
            store_month=f"{entry.store_id}#{entry.month}" if entry.store_id else None,
            entry_key=f"{entry.created_at.isoformat()}#{entry.source}#{entry.order_id}#{entry.seq:05d}")

    def staff_entries(self, staff_id: str, month: str) -> list[Entry]:
        return [_entry(i) for i in EntryItem.by_staff.query(f"{staff_id}#{month}")]

    def store_entries(self, store_id: str, month: str) -> list[Entry]:
        return [_entry(i) for i in EntryItem.by_store.query(f"{store_id}#{month}")]

