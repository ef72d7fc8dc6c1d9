"""Dashboard rollups in the members table: state items the consumer conditions on, counter items dashboards read.

* pk=MEMBER#<id>, sk=DASHBOARD and pk=ORDER#<source>#<order_id>, sk=DASHBOARD: a member's and an order's
  state as the dashboards applied it (``state`` map) and the ``version`` every write is conditioned on.
* pk=KPI#<scope>, sk=TOTALS and pk=KPI#<scope>, sk=MONTH#<YYYY-MM>: a scope's counters (``scope`` is
  ``store:<id>`` or ``staff:<id>``), only ever added to (ADD), never read by the consumer.

A batch costs one consistent BatchGetItem of its state items and one TransactWriteItems: every state it
changes, put under a condition on the version read (or on not existing yet), and every counter item it
changes, updated once with the batch's merged deltas. A dashboard is one BatchGetItem: the store's or
staff member's record, the scope's totals and six month items.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute

from omo2c.core.dynamo import MembersTableItem, batch_get, configure, plain
from omo2c.core.errors import Conflict
from omo2c.core.settings import Settings
from omo2c.dashboards.model import (
    Chunk,
    Deltas,
    ItemKey,
    MemberState,
    OrderRef,
    OrderState,
    Rollups,
    staff_scope,
    store_scope,
)
from omo2c.orders.model import OrderRecord
from omo2c.orders.storage import OrderItem, order_from_item
from omo2c.staff.storage import staff_from_raw, staff_key

STATE_SK = "DASHBOARD"
TOTALS_SK = "TOTALS"


def member_state_key(member_id: str) -> tuple[str, str]:
    return f"MEMBER#{member_id}", STATE_SK


def order_state_key(source: str, order_id: str) -> tuple[str, str]:
    return f"ORDER#{source}#{order_id}", STATE_SK


def rollup_key(key: ItemKey) -> tuple[str, str]:
    scope, month = key
    return f"KPI#{scope}", TOTALS_SK if month is None else f"MONTH#{month}"


def store_key(store_id: str) -> tuple[str, str]:
    """The store's record (:class:`omo2c.staff.storage.StoreItem`)."""
    return "STORES", f"STORE#{store_id}"


class DashboardStateItem(MembersTableItem):
    """pk=MEMBER#<id> or ORDER#<source>#<order_id>, sk=DASHBOARD."""

    kind = UnicodeAttribute()
    state = MapAttribute(default=dict)
    version = NumberAttribute(default=0)
    updated_at = UnicodeAttribute(null=True)


DASHBOARD_MODELS = (DashboardStateItem,)


# ---------------------------------------------------------------------- states as stored
def _member_map(m: MemberState) -> dict[str, Any]:
    return {"joined": m.joined, "created_at": m.created_at, "created_by": m.created_by,
            "created_store": m.created_store, "home": list(m.home) if m.home else None,
            "bound": list(m.bound) if m.bound else None, "unbound": dict(m.unbound), "bindings": list(m.bindings),
            "merged": m.merged, "orders": {k: dict(v) for k, v in m.orders.items()},
            "spend": {k: {c: str(a) for c, a in v.items()} for k, v in m.spend.items()},
            "frozen": {k: list(v) for k, v in m.frozen.items()}}


def _member(member_id: str, raw: dict[str, Any], stored: int) -> MemberState:
    home, bound = raw.get("home"), raw.get("bound")
    return MemberState(
        member_id, joined=raw.get("joined"), created_at=_int(raw.get("created_at")),
        created_by=raw.get("created_by") or "", created_store=raw.get("created_store"),
        home=(int(home[0]), str(home[1])) if home else None, bound=(int(bound[0]), str(bound[1])) if bound else None,
        unbound={k: int(v) for k, v in (raw.get("unbound") or {}).items()},
        bindings=[str(b) for b in raw.get("bindings") or []], merged=bool(raw.get("merged")),
        orders={k: {c: int(n) for c, n in v.items()} for k, v in (raw.get("orders") or {}).items()},
        spend={k: {c: Decimal(str(a)) for c, a in v.items()} for k, v in (raw.get("spend") or {}).items()},
        frozen={k: (v[0], v[1]) for k, v in (raw.get("frozen") or {}).items()}, stored=stored)


def _order_map(o: OrderState) -> dict[str, Any]:
    return {"version": o.version, "member_id": o.member_id, "channel": o.channel, "store_id": o.store_id,
            "staff_id": o.staff_id, "month": o.month, "currency": o.currency, "counted": o.counted,
            "net": str(o.net), "entries": list(o.entries), "conversions": list(o.conversions)}


def _order(ref: OrderRef, raw: dict[str, Any], stored: int) -> OrderState:
    return OrderState(
        *ref, version=raw.get("version") or "", member_id=raw.get("member_id"), channel=raw.get("channel") or "",
        store_id=raw.get("store_id"), staff_id=raw.get("staff_id"), month=raw.get("month") or "",
        currency=raw.get("currency") or "TWD", counted=bool(raw.get("counted")), net=Decimal(str(raw.get("net", 0))),
        entries=[int(e) for e in raw.get("entries") or []], conversions=[str(c) for c in raw.get("conversions") or []],
        stored=stored)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _number(value: Decimal) -> dict[str, str]:
    return {"N": f"{Decimal(value):f}"}


def _counters(raw: dict[str, Any] | None) -> dict[str, Decimal]:
    return {name: Decimal(value["N"]) for name, value in (raw or {}).items()
            if isinstance(value, dict) and "N" in value}


def _key(pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


class DashboardStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        configure(settings, DASHBOARD_MODELS)

    @property
    def _table(self) -> str:
        return str(DashboardStateItem.Meta.table_name)

    @property
    def _client(self) -> Any:
        return DashboardStateItem._get_connection().connection.client

    # ------------------------------------------------------------------ the consumer
    def read_states(self, member_ids: Iterable[str], refs: Iterable[OrderRef]
                    ) -> tuple[dict[str, MemberState], dict[OrderRef, OrderState]]:
        """One consistent BatchGetItem: the members' and orders' states (fresh ones where there are none)."""
        member_ids, refs = sorted(set(member_ids)), sorted(set(refs))
        found = batch_get(DashboardStateItem, [member_state_key(m) for m in member_ids]
                          + [order_state_key(*r) for r in refs])
        members, orders = {}, {}
        for member_id in member_ids:
            raw = found.get(member_state_key(member_id))
            item = DashboardStateItem.from_raw_data(raw) if raw else None
            members[member_id] = (_member(member_id, plain(item.state) or {}, int(item.version or 0)) if item
                                  else MemberState(member_id))
        for ref in refs:
            raw = found.get(order_state_key(*ref))
            item = DashboardStateItem.from_raw_data(raw) if raw else None
            orders[ref] = _order(ref, plain(item.state) or {}, int(item.version or 0)) if item else OrderState(*ref)
        return members, orders

    def commit(self, chunk: Chunk) -> None:
        """One TransactWriteItems; a state changed since it was read cancels all of it (:class:`Conflict`)."""
        now = datetime.now(tz=UTC).isoformat()
        writes = [self._put(member_state_key(m.member_id), "member", _member_map(m), m.stored, now)
                  for m in chunk.members]
        writes += [self._put(order_state_key(*o.ref), "order", _order_map(o), o.stored, now) for o in chunk.orders]
        writes += [self._add(key, counters) for key, counters in sorted(chunk.deltas.items(), key=_sort_key)]
        try:
            self._client.transact_write_items(TransactItems=writes)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                raise Conflict("a dashboard state changed concurrently") from exc
            raise

    def _put(self, key: tuple[str, str], kind: str, state: dict[str, Any], stored: int, now: str) -> dict[str, Any]:
        item = DashboardStateItem(*key, kind=kind, state=state, version=stored + 1, updated_at=now)
        put: dict[str, Any] = {"TableName": self._table, "Item": item.serialize()}
        if stored == 0:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put |= {"ConditionExpression": "#version = :version", "ExpressionAttributeNames": {"#version": "version"},
                    "ExpressionAttributeValues": {":version": {"N": str(stored)}}}
        return {"Put": put}

    def _add(self, key: ItemKey, counters: dict[str, Decimal]) -> dict[str, Any]:
        return {"Update": {"TableName": self._table, "Key": _key(*rollup_key(key)),
                           **_expression(key, counters, "ADD")}}

    # ------------------------------------------------------------------ the dashboards
    def rollups(self, kind: str, scope_id: str, months: list[str]) -> Rollups:
        """One BatchGetItem: the store's or staff member's record, the scope's totals and its month items."""
        scope = store_scope(scope_id) if kind == "store" else staff_scope(scope_id)
        profile = store_key(scope_id) if kind == "store" else staff_key(scope_id)
        found = batch_get(DashboardStateItem, [profile, rollup_key((scope, None)),
                                               *[rollup_key((scope, m)) for m in months]])
        record = found.get(profile)
        store_id = staff_from_raw(record).store_id if record is not None and kind == "staff" else None
        return Rollups(record is not None, store_id, _counters(found.get(rollup_key((scope, None)))),
                       {m: _counters(found.get(rollup_key((scope, m)))) for m in months})

    # ------------------------------------------------------------------ the rebuild (an operator's command)
    def month_sources(self, month: str, start_ms: int, end_ms: int
                      ) -> tuple[list[OrderRecord], dict[ItemKey, dict[str, Decimal]]]:
        """Every order placed in [start_ms, end_ms) and every month item of ``month``: one Scan of the whole
        table with a filter, page by page. Only the rebuild command calls this; no request path scans."""
        orders: list[OrderRecord] = []
        items: dict[ItemKey, dict[str, Decimal]] = {}
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "(sk = :order AND placed_at BETWEEN :start AND :end) "
                                "OR (sk = :month AND begins_with(pk, :kpi))",
            "ExpressionAttributeValues": {":order": {"S": "ORDER"}, ":start": {"N": str(start_ms)},
                                          ":end": {"N": str(end_ms - 1)}, ":month": {"S": f"MONTH#{month}"},
                                          ":kpi": {"S": "KPI#"}}}
        while True:
            page = self._client.scan(**request)
            for raw in page.get("Items", []):
                if raw["sk"]["S"] == "ORDER":
                    orders.append(order_from_item(OrderItem.from_raw_data(raw)))
                else:
                    items[(raw["pk"]["S"].removeprefix("KPI#"), month)] = _counters(raw)
            if not page.get("LastEvaluatedKey"):
                return orders, items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def overwrite(self, figures: Deltas) -> int:
        """Set these counters to these values (one UpdateItem per item, not conditioned): the rebuild's
        write, and how benchmarks seed rollups. Returns the items written."""
        for key, counters in sorted(figures.items(), key=_sort_key):
            self._client.update_item(TableName=self._table, Key=_key(*rollup_key(key)),
                                     **_expression(key, counters, "SET"))
        return len(figures)

    def put_rollups(self, figures: Deltas) -> int:
        """Write these rollup items whole, replacing what they held (BatchWriteItem, 25 a request): how
        benchmarks and tests seed rollups without events. Returns the items written."""
        items = []
        for key, counters in sorted(figures.items(), key=_sort_key):
            scope, month = key
            item = {**_key(*rollup_key(key)), "scope": {"S": scope},
                    **({"month": {"S": month}} if month else {}),
                    **{name: _number(value) for name, value in counters.items()}}
            items.append({"PutRequest": {"Item": item}})
        for start in range(0, len(items), 25):
            pending = {self._table: items[start:start + 25]}
            while pending:
                pending = self._client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        return len(items)


def _sort_key(entry: tuple[ItemKey, Any]) -> tuple[str, str]:
    scope, month = entry[0]
    return scope, month or ""


def _expression(key: ItemKey, counters: dict[str, Decimal], verb: str) -> dict[str, Any]:
    """``SET scope (and month)`` plus ``ADD``/``SET`` of each counter, every name and value a placeholder."""
    scope, month = key
    names = {"#scope": "scope"}
    values: dict[str, Any] = {":scope": {"S": scope}}
    sets = ["#scope = :scope"]
    if month is not None:
        names["#month"] = "month"
        values[":month"] = {"S": month}
        sets.append("#month = :month")
    terms = []
    for i, (name, value) in enumerate(sorted(counters.items())):
        names[f"#c{i}"] = name
        values[f":c{i}"] = _number(value)
        terms.append(f"#c{i} :c{i}" if verb == "ADD" else f"#c{i} = :c{i}")
    if verb == "ADD":
        expression = f"SET {', '.join(sets)}" + (f" ADD {', '.join(terms)}" if terms else "")
    else:
        expression = f"SET {', '.join(sets + terms)}"
    return {"UpdateExpression": expression, "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
