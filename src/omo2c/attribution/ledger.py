"""The commission ledger: rates, exact Decimal amounts, append-only entries, statements.

The ledger of an order always sums to the commission on its latest net kept amount: each
new order version appends the difference (a refund or cancellation appends a negative
entry), and a version that is not newer appends nothing. Entries are ``pending`` during
the holding period and ``approved`` after; a negative entry made after its sale was
approved is a clawback, shown in the statement of the month it happens.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from omo2c.attribution.rules import Credit, OrderFacts
from omo2c.core.spreadsheet import spreadsheet_cell

ZERO_DECIMAL_CURRENCIES = {"TWD", "JPY", "KRW", "VND", "IDR"}


def quantize(amount: Decimal, currency: str) -> Decimal:
    step = Decimal(1) if currency.upper() in ZERO_DECIMAL_CURRENCIES else Decimal("0.01")
    return amount.quantize(step, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Rates:
    """Commission rates: by channel, overridden per store, and per product category."""

    channels: dict[str, Decimal]
    stores: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    categories: dict[str, Decimal] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Rates:
        return cls(
            channels={k: Decimal(str(v)) for k, v in (config.get("channels") or {}).items()},
            stores={store: {k: Decimal(str(v)) for k, v in rates.items()}
                    for store, rates in (config.get("stores") or {}).items()},
            categories={k: Decimal(str(v)) for k, v in (config.get("categories") or {}).items()},
        )

    def base_rate(self, channel: str, store_id: str | None) -> tuple[Decimal, str]:
        if store_id and channel in self.stores.get(store_id, {}):
            return self.stores[store_id][channel], f"store {store_id} {channel} rate"
        return self.channels.get(channel, Decimal(0)), f"{channel} rate"


def commission(order: OrderFacts, rates: Rates) -> tuple[Decimal, str]:
    """Commission on the order's net kept amount; items of a rated category earn their own rate."""
    if order.status != "open" or order.net_kept <= 0:
        return Decimal(0), "nothing kept"
    base_rate, rule = rates.base_rate(order.channel, order.store_id)
    values = []
    for item in order.items:
        try:
            value = Decimal(str(item.get("price", 0))) * Decimal(str(item.get("quantity", 0)))
        except ArithmeticError:
            value = Decimal(0)
        values.append((value, rates.categories.get(str(item.get("category") or ""), None)))
    items_total = sum((v for v, _ in values), Decimal(0))
    if items_total > 0 and any(rate is not None for _, rate in values):
        raw = sum((order.net_kept * value / items_total * (rate if rate is not None else base_rate)
                   for value, rate in values), Decimal(0))
        return quantize(raw, order.currency), f"{rule} with category rates"
    return quantize(order.net_kept * base_rate, order.currency), f"{rule} {base_rate}"


@dataclass(frozen=True)
class Entry:
    seq: int
    source: str
    order_id: str
    version: str
    staff_id: str | None
    store_id: str | None
    kind: str
    base: Decimal
    amount: Decimal
    currency: str
    rule: str
    rate_rule: str
    created_at: datetime
    clawback: bool = False

    @property
    def month(self) -> str:
        return self.created_at.strftime("%Y-%m")

    def status(self, now: datetime, holding_days: int) -> str:
        return "approved" if now >= self.created_at + timedelta(days=holding_days) else "pending"


@dataclass(frozen=True)
class Attribution:
    """What was decided for an order, and up to which version the ledger reflects it."""

    source: str
    order_id: str
    credit: Credit
    applied_version: str
    decided_at: datetime
    net_kept: Decimal
    commission: Decimal
    currency: str


def next_entry(order: OrderFacts, credit: Credit, entries: list[Entry], rates: Rates, now: datetime,
               holding_days: int) -> Entry | None:
    """The one entry that brings the order's ledger to its commission now, or None."""
    target, rate_rule = commission(order, rates) if credit.attributed else (Decimal(0), "unattributed")
    current = sum((e.amount for e in entries), Decimal(0))
    delta = target - current
    if delta == 0:
        return None
    if delta > 0:
        kind = "sale" if not entries else "adjustment"
    else:
        kind = "cancellation" if order.status == "cancelled" else "refund"
    approved_sales = [e for e in entries if e.amount > 0 and e.status(now, holding_days) == "approved"]
    return Entry(
        seq=len(entries) + 1, source=order.source, order_id=order.order_id, version=order.version,
        staff_id=credit.staff_id, store_id=credit.store_id, kind=kind,
        base=(order.net_kept if order.status == "open" else Decimal(0)) - sum((e.base for e in entries), Decimal(0)),
        amount=delta, currency=order.currency, rule=credit.rule, rate_rule=rate_rule, created_at=now,
        clawback=delta < 0 and bool(approved_sales),
    )


def statement(owner: dict[str, str], month: str, entries: list[Entry], now: datetime,
              holding_days: int) -> dict[str, Any]:
    lines = []
    totals: dict[str, Decimal] = {"pending": Decimal(0), "approved": Decimal(0), "clawbacks": Decimal(0)}
    for entry in sorted(entries, key=lambda e: (e.created_at, e.source, e.order_id, e.seq)):
        status = entry.status(now, holding_days)
        totals[status] += entry.amount
        if entry.clawback:
            totals["clawbacks"] += entry.amount
        lines.append({
            "created_at": entry.created_at.isoformat(), "source": entry.source, "order_id": entry.order_id,
            "kind": "clawback" if entry.clawback else entry.kind, "staff_id": entry.staff_id,
            "store_id": entry.store_id, "base": str(entry.base), "amount": str(entry.amount),
            "currency": entry.currency, "rule": entry.rule, "rate": entry.rate_rule, "status": status,
        })
    currencies = sorted({e.currency for e in entries})
    return {**owner, "month": month, "currencies": currencies, "lines": lines,
            "totals": {k: str(v) for k, v in totals.items()} | {
                "total": str(totals["pending"] + totals["approved"])}}


def statement_csv(document: dict[str, Any]) -> str:
    """The statement as RFC 4180 CSV (CRLF rows, so a cell's own line breaks are always quoted)."""
    out = io.StringIO()
    columns = ["created_at", "source", "order_id", "kind", "staff_id", "store_id", "base", "amount", "currency",
               "rule", "rate", "status"]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    rows = [{c: line.get(c) for c in columns} for line in document["lines"]]
    rows += [{"created_at": f"total {name}", "amount": value} for name, value in document["totals"].items()]
    for row in rows:
        writer.writerow({c: spreadsheet_cell(v) for c, v in row.items()})
    return out.getvalue()


def now_utc() -> datetime:
    return datetime.now(tz=UTC)
