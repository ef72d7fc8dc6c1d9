"""Dollars per million orders and per million LINE campaign messages, counted from the real handlers.

One known member's POS order goes the whole way on the in-process moto stack: the webhook intake
(an HTTP API event), the ingest queue, the worker, the bus, the four consumers the template's rules
feed (attribute, loyalty, notify, dashboards; attribution's commission event feeds dashboards again).
A LINE campaign is planned and sent to 1,000 lapsed members by the planner and the sender handlers.
A botocore hook on the handlers' own requests (the harness's are not counted) measures:

* DynamoDB read units per item *requested* for GetItem/BatchGetItem, rounded up per 4 KB of the
  whole item (a missing item still costs 1 strongly consistent, 0.5 eventually consistent), and per
  4 KB of everything a Query/Scan evaluates (at least one unit; filters, projections and COUNT don't
  lower it); write units per 1 KB of the larger of the item before and after (2x in a transaction,
  failed conditions included); and for every write, the writes it makes in each global secondary
  index of template.yaml (an item is in an index when it carries the index's key attributes; 1 WRU per
  1 KB of the projected entry; a key change is a delete plus a put; nothing when no projected
  attribute changed). Item sizes follow DynamoDB's rules on the items as stored (read back from moto).
* Lambda invocations per function (the event source mapping's batches of up to 10), SQS requests per
  64 KB chunk (the mapping's receive and delete per batch, EventBridge's delivery to each rule's queue,
  the handlers' sends), EventBridge events per 64 KB chunk, and the bytes the handlers print
  (Powertools JSON logs at the template's INFO level, EMF metrics).

Assumed, not measured (the moto-backed times say nothing about AWS latency): durations, the share of
invocations that restore a SnapStart snapshot, the monthly volume the per-version snapshot cache is
spread over, Lambda's platform log lines, X-Ray sampling, and the prices. Every price and assumption
is in ASSUMPTIONS with its unit, region, source and the day it was read; prices the stored copies of the
pricing pages did not show for ap-northeast-1 are marked "not verified". Free tiers are ignored; SMS,
storage, PITR, KMS, custom metrics and the mappings' idle polling are not per-order charges and are
left out of the per-order figures (the snapshot cache is spread over the assumed volume).

``cost_model.gsi.*`` replays the same measured writes with KEYS_ONLY and with INCLUDE of what each
index's readers use (READERS), to price narrower projections; template.yaml is not changed here.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

READ_ON = "2026-12-01"
REGION = "ap-northeast-1"
KB = 1024
SQS_CHUNK = EVENT_CHUNK = 64 * KB
SECONDS_PER_MONTH = 30 * 86_400


# ---------------------------------------------------------------------- prices and assumptions
@dataclass(frozen=True)
class Assumption:
    key: str
    value: float
    unit: str
    region: str
    source: str
    note: str = ""
    read_on: str = READ_ON


_LAMBDA_PRICING = "https://aws.amazon.com/lambda/pricing/"
_DDB_PRICING = "https://aws.amazon.com/dynamodb/pricing/on-demand/"
_DDB_UNITS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html"
_UNVERIFIED = "not verified: the stored copy of the pricing page renders no ap-northeast-1 price; list price as known"
ASSUMPTIONS = [
    Assumption("lambda_request", 0.20 / 1e6, "USD per request", REGION, _LAMBDA_PRICING, _UNVERIFIED
               + " (us-east-1 $0.20/M read in a third-party transcription of that page)"),
    Assumption("lambda_gb_second", 0.0000166667, "USD per GB-second (x86_64)", REGION, _LAMBDA_PRICING, _UNVERIFIED
               + " (us-east-1 $0.0000166667 read in the same transcription)"),
    Assumption("snapstart_cache_gb_second", 0.0000015046, "USD per GB-second of memory, per cached version",
               "us-east-1", _LAMBDA_PRICING, "not verified: read on a third-party page (awsnegotiations.com, "
               "'approximately'); ap-northeast-1 not found; minimum 3 h per version, a version not invoked "
               "for 14 days loses its snapshot (docs: snapstart-security.html)"),
    Assumption("snapstart_restore_gb", 0.0001397998, "USD per GB of memory per restore", "us-east-1",
               _LAMBDA_PRICING, "not verified: same third-party page; ap-northeast-1 not found"),
    Assumption("ddb_write_request_unit", 0.715 / 1e6, "USD per write request unit (on-demand, Standard)", REGION,
               _DDB_PRICING, _UNVERIFIED + " (after the November 2024 on-demand reduction)"),
    Assumption("ddb_read_request_unit", 0.1425 / 1e6, "USD per read request unit (on-demand, Standard)", REGION,
               _DDB_PRICING, _UNVERIFIED),
    Assumption("ddb_storage_gb_month", 0.285, "USD per GB-month (Standard)", REGION,
               "https://aws.amazon.com/dynamodb/pricing/", _UNVERIFIED + "; only in the projection figures"),
    Assumption("sqs_request", 0.40 / 1e6, "USD per request (standard queue, per 64 KB chunk)", REGION,
               "https://aws.amazon.com/sqs/pricing/", _UNVERIFIED),
    Assumption("eventbridge_event", 1.00 / 1e6, "USD per custom event (per 64 KB chunk)", REGION,
               "https://aws.amazon.com/eventbridge/pricing/", _UNVERIFIED),
    Assumption("http_api_request", 1.29 / 1e6, "USD per HTTP API request (first 300 M a month)", REGION,
               "https://aws.amazon.com/api-gateway/pricing/", _UNVERIFIED),
    Assumption("logs_ingest_gb", 0.76, "USD per GB ingested (Standard class, Lambda and vended logs' first tier)",
               REGION, "https://aws.amazon.com/cloudwatch/pricing/", _UNVERIFIED),
    Assumption("xray_trace_recorded", 5.00 / 1e6, "USD per trace recorded", REGION,
               "https://aws.amazon.com/xray/pricing/", _UNVERIFIED),
    Assumption("xray_trace_retrieved", 0.50 / 1e6, "USD per trace retrieved or scanned", REGION,
               "https://aws.amazon.com/xray/pricing/", _UNVERIFIED + "; none assumed retrieved"),
    # what is assumed rather than priced
    Assumption("api_seconds", 0.060, "seconds per HTTP API invocation", "-", "assumption",
               "moto times say nothing about DynamoDB latency in AWS"),
    Assumption("record_seconds", 0.030, "seconds per queued record (per member for the sender)", "-", "assumption"),
    Assumption("planner_seconds_per_member", 0.002, "seconds per member the planner selects", "-", "assumption"),
    Assumption("restores_per_invocation", 0.001, "SnapStart restores per invocation", "-", "assumption",
               "one new execution environment per 1,000 invocations"),
    Assumption("orders_per_month", 1_000_000, "orders a month (spreads the order path's snapshot cache)", "-",
               "assumption"),
    Assumption("messages_per_month", 1_000_000, "campaign messages a month (spreads the sender's and planner's "
               "snapshot cache)", "-", "assumption"),
    Assumption("cached_versions", 1, "SnapStart versions cached per function", "-", "assumption",
               "AutoPublishAlias: the live one; a deploy keeps the previous one cached until 14 days uninvoked"),
    Assumption("xray_sampled", 1.0, "share of invocations traced; one trace each (none joined across SQS)", "-",
               "https://docs.aws.amazon.com/xray/latest/devguide/xray-console-sampling.html",
               "default rule: 1 request a second, then 5%; at the assumed volume (0.4 orders/s) nearly all"),
    Assumption("batch", 10, "records per consumer invocation (orders posted ten at a time)", "-", "assumption",
               "cost_model.orders.batch_of_1 has them one at a time"),
]
A = {a.key: a.value for a in ASSUMPTIONS}
SOURCES = {
    "DynamoDB units": _DDB_UNITS + " (stored copy: awsdocs/amazon-dynamodb-developer-guide "
                      "CapacityUnitCalculations.md; missing items, 4 KB reads, 1 KB writes, larger of before/after)",
    "GSI writes": "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations"
                  ".Writes (stored copy: GSI.md; key change = delete + put; 100 bytes of storage overhead an entry)",
    "transactions": "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html "
                    "(two underlying writes an item; indexes updated after the transaction, counted 1x)",
    "SnapStart regions": "https://docs.aws.amazon.com/lambda/latest/dg/snapstart.html (read in its Chinese copy, "
                         "docs.amazonaws.cn/lambda/latest/dg/snapstart.html: every commercial Region except Asia "
                         "Pacific (New Zealand) and Asia Pacific (Taipei)): ap-northeast-1 yes, ap-east-2 no",
}


# ---------------------------------------------------------------------- DynamoDB accounting (pure)
def _number_size(text: str) -> int:
    digits = text.lstrip("+-").replace(".", "").lstrip("0").split("e")[0].split("E")[0].rstrip("0")
    return math.ceil(max(1, len(digits)) / 2) + 1


def value_size(value: dict[str, Any]) -> int:
    """Bytes of one attribute value, by DynamoDB's item-size rules (names are counted by the caller)."""
    (kind, data), = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return _number_size(data)
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode()) for v in data)
    if kind == "NS":
        return sum(_number_size(v) for v in data)
    if kind == "BS":
        return sum(len(v) for v in data)
    if kind == "L":
        return 3 + sum(value_size(v) for v in data)
    if kind == "M":
        return 3 + sum(len(k.encode()) + value_size(v) for k, v in data.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any] | None) -> int:
    """The size DynamoDB bills an item at: attribute names plus values (0 for no item)."""
    return sum(len(name.encode()) + value_size(value) for name, value in (item or {}).items())


CONSISTENCY = {"eventual": 0.5, "strong": 1.0, "transactional": 2.0}


def read_units(size: int, consistency: str = "strong") -> float:
    """One item read: its size rounded up to 4 KB (a missing or empty item still one unit), times the consistency."""
    return max(1, math.ceil(size / (4 * KB))) * CONSISTENCY[consistency]


def get_read_units(sizes: list[int], consistency: str = "strong") -> float:
    """GetItem/BatchGetItem: each key requested is its own read, found or not (size 0 for a missing item)."""
    return sum(read_units(size, consistency) for size in sizes)


def query_read_units(sizes: list[int], consistency: str = "eventual") -> float:
    """Query/Scan: the items evaluated taken together, rounded up to 4 KB; at least one unit."""
    return read_units(sum(sizes), consistency)


def write_units(before: int, after: int, transactional: bool = False) -> float:
    """A put, update or delete: the larger of the item before and after, rounded up to 1 KB (at least one)."""
    return max(1, math.ceil(max(before, after) / KB)) * (2 if transactional else 1)


@dataclass(frozen=True)
class Index:
    """A global secondary index as template.yaml declares it."""

    table: str
    name: str
    keys: tuple[str, ...]
    table_keys: tuple[str, ...]
    projection: str = "ALL"
    non_key: tuple[str, ...] = ()

    def entry(self, item: dict[str, Any] | None) -> dict[str, Any] | None:
        """The item's entry in the index, or None when it lacks one of the index's key attributes."""
        if not item or any(k not in item for k in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        kept = {*self.keys, *self.table_keys, *(self.non_key if self.projection == "INCLUDE" else ())}
        return {k: v for k, v in item.items() if k in kept}

    def projected(self, projection: str, non_key: tuple[str, ...] = ()) -> Index:
        return replace(self, projection=projection, non_key=non_key)

    def write_units(self, before: dict[str, Any] | None, after: dict[str, Any] | None) -> float:
        """What one table write costs in this index."""
        old, new = self.entry(before), self.entry(after)
        if old is None and new is None:
            return 0.0
        if old is None or new is None:
            return write_units(item_size(old or new), 0)
        if any(old[k] != new[k] for k in self.keys):
            return write_units(item_size(old), 0) + write_units(item_size(new), 0)
        if old == new:
            return 0.0
        return write_units(item_size(old), item_size(new))

    def storage_bytes(self, item: dict[str, Any] | None) -> int:
        entry = self.entry(item)
        return 0 if entry is None else item_size(entry) + 100


@dataclass(frozen=True)
class Table:
    logical_id: str
    keys: tuple[str, ...]
    indexes: tuple[Index, ...]

    def key_of(self, item: dict[str, Any]) -> dict[str, Any]:
        return {k: item[k] for k in self.keys}


def tables(template: Any | None = None) -> dict[str, Table]:
    """The tables and their global secondary indexes, from template.yaml."""
    from infra.template import load

    found = {}
    for logical_id, props in (template or load()).tables.items():
        keys = tuple(k["AttributeName"] for k in props["KeySchema"])
        indexes = tuple(Index(logical_id, gsi["IndexName"], tuple(k["AttributeName"] for k in gsi["KeySchema"]), keys,
                              gsi["Projection"]["ProjectionType"], tuple(gsi["Projection"].get("NonKeyAttributes", ())))
                        for gsi in props.get("GlobalSecondaryIndexes", []))
        found[logical_id] = Table(logical_id, keys, indexes)
    return found


# What each index's readers use (read from their code); INCLUDE projects these, besides the keys.
_CAMPAIGN_MEMBER = ("member_id", "status", "identifiers", "profile", "consent", "tags", "first_order_at",
                    "last_order_at", "order_count", "net_spent", "line", "binding", "opted_out", "email_bounced")
READERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "ByLastOrderDay": ("MemberStore.by_last_order_day <- CampaignService.select (day-window segments: matches, "
                       "channels, personal text)", _CAMPAIGN_MEMBER),
    "ByBoundStaff": ("MemberStore.bound_to <- StaffWorkspace.customers/kpis, staff admin customers/leave",
                     ("member_id", "status", "identifiers", "profile", "tags", "first_order_at", "last_order_at",
                      "order_count", "line", "binding", "opted_out")),
    "ByBirthday": ("MemberStore.born_on <- birthday journeys (queued with the members: channels, text)",
                   _CAMPAIGN_MEMBER),
    "ByTier": ("tier_index <- tier review and tier audiences (ids only: the keys), TagStore.tier_members <- "
               "tier segments (whole members)", (*_CAMPAIGN_MEMBER, "tier")),
    "ByMemberOrders": ("member_orders <- StaffWorkspace.customer (order history)",
                       ("source", "order_id", "channel", "total", "discount", "shipping", "refunds", "currency",
                        "status", "store_id", "items")),
    "ByStaffMonth": ("LedgerStore.staff_entries <- staff statements", ("seq", "source", "order_id", "version",
                     "staff_id", "store_id", "kind", "base", "amount", "currency", "rule", "rate_rule", "created_at",
                     "clawback")),
    "ByStoreMonth": ("LedgerStore.store_entries <- store statements", ("seq", "source", "order_id", "version",
                     "staff_id", "store_id", "kind", "base", "amount", "currency", "rule", "rate_rule", "created_at",
                     "clawback")),
    "ByMemberSends": ("CampaignStore.recent_sends (COUNT: keys only) and sends_before <- last-touch conversions",
                      ("kind", "status", "channel", "campaign_id", "run_id", "prior_orders")),
}


# ---------------------------------------------------------------------- metering the handlers' requests
@dataclass
class Usage:
    """What one actor (a function, an event source mapping, EventBridge) used."""

    requests: Counter = field(default_factory=Counter)
    read_units: float = 0.0
    write_units: float = 0.0
    index_write_units: Counter = field(default_factory=Counter)
    legacy_read_units: float = 0.0  # the rules of bench/counting.py, for the before/after figure
    legacy_write_units: float = 0.0
    sqs_requests: float = 0.0
    events: float = 0.0
    invocations: int = 0
    seconds: float = 0.0
    log_bytes: int = 0


@dataclass
class Write:
    table: Table
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def _chunks(size: int, chunk: int) -> int:
    return max(1, math.ceil(size / chunk))


def _referenced(text: str) -> set[str]:
    return set(re.findall(r"[#:][A-Za-z0-9_]+", text))


class Meter:
    """Wraps botocore's API call: the requests of the current actor are counted and priced in units."""

    def __init__(self, table_by_name: dict[str, Table]) -> None:
        self.table_by_name = table_by_name
        self.usage: dict[str, Usage] = defaultdict(Usage)
        self.actor: str | None = None
        self.writes: list[Write] = []
        self.failed_writes = 0
        self._original: Callable[..., Any] | None = None

    @contextlib.contextmanager
    def acting(self, actor: str) -> Iterator[Usage]:
        previous, self.actor = self.actor, actor
        try:
            yield self.usage[actor]
        finally:
            self.actor = previous

    @contextlib.contextmanager
    def installed(self) -> Iterator[Meter]:
        import botocore.client

        self._original = botocore.client.BaseClient._make_api_call
        meter = self

        def metered(client: Any, operation: str, params: dict[str, Any]) -> Any:
            if meter.actor is None or threading.current_thread() is not threading.main_thread():
                return meter._call(client, operation, params)
            return meter._metered(client, operation, params)

        with mock.patch.object(botocore.client.BaseClient, "_make_api_call", metered):
            yield self

    def _call(self, client: Any, operation: str, params: dict[str, Any]) -> Any:
        assert self._original is not None
        return self._original(client, operation, params)

    def _full(self, client: Any, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        return self._call(client, "GetItem", {"TableName": table, "Key": key, "ConsistentRead": True}).get("Item")

    def _metered(self, client: Any, operation: str, params: dict[str, Any]) -> Any:
        usage = self.usage[self.actor or ""]
        service = client.meta.service_model.service_name
        usage.requests[(service, operation)] += 1
        if service == "dynamodb":
            return self._dynamodb(client, operation, params, usage)
        response = self._call(client, operation, params)
        if service == "sqs":
            if operation == "SendMessage":
                usage.sqs_requests += _chunks(len(params["MessageBody"].encode()), SQS_CHUNK)
            elif operation == "SendMessageBatch":
                usage.sqs_requests += _chunks(sum(len(e["MessageBody"].encode()) for e in params["Entries"]),
                                              SQS_CHUNK)
            elif operation == "ReceiveMessage":
                usage.sqs_requests += _chunks(sum(len(m["Body"].encode()) for m in response.get("Messages", [])),
                                              SQS_CHUNK)
            else:
                usage.sqs_requests += 1
        elif service == "events" and operation == "PutEvents":
            usage.events += sum(_chunks(sum(len(str(v).encode()) for v in entry.values()), EVENT_CHUNK)
                                for entry in params["Entries"])
        return response

    # -- DynamoDB
    def _dynamodb(self, client: Any, operation: str, params: dict[str, Any], usage: Usage) -> Any:
        if operation in ("GetItem", "BatchGetItem", "TransactGetItems", "Query", "Scan"):
            return self._read(client, operation, params, usage)
        if operation in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"):
            return self._write(client, operation, params, usage)
        return self._call(client, operation, params)

    def _read(self, client: Any, operation: str, params: dict[str, Any], usage: Usage) -> Any:
        response = self._call(client, operation, params)
        consistency = "strong" if params.get("ConsistentRead") else "eventual"
        if operation == "GetItem":
            item = response.get("Item")
            if item is not None and "ProjectionExpression" in params:
                item = self._full(client, params["TableName"], params["Key"])
            usage.read_units += get_read_units([item_size(item)], consistency)
            usage.legacy_read_units += CONSISTENCY[consistency]
        elif operation == "BatchGetItem":
            returned = 0
            for table, request in params["RequestItems"].items():
                consistency = "strong" if request.get("ConsistentRead") else "eventual"
                got = response.get("Responses", {}).get(table, [])
                returned += len(got)
                spec = self.table_by_name[table]
                found = {json.dumps(spec.key_of(i), sort_keys=True): i for i in got}
                sizes = []
                for key in request["Keys"]:
                    item = found.get(json.dumps(key, sort_keys=True))
                    if item is not None and "ProjectionExpression" in request:
                        item = self._full(client, table, key)
                    sizes.append(item_size(item))
                usage.read_units += get_read_units(sizes, consistency)
            strong = any(t.get("ConsistentRead") for t in params["RequestItems"].values())
            usage.legacy_read_units += max(1, returned) * (1.0 if strong else 0.5)
        elif operation == "TransactGetItems":
            for get in (t["Get"] for t in params["TransactItems"]):
                usage.read_units += read_units(item_size(self._full(client, get["TableName"], get["Key"])),
                                               "transactional")
        else:
            evaluated = response.get("Items", [])
            if ({"FilterExpression", "ProjectionExpression", "Select", "AttributesToGet"} & params.keys()
                    or "Items" not in response):
                evaluated = self._evaluated(client, operation, params)
            usage.read_units += query_read_units([item_size(i) for i in evaluated], consistency)
            usage.legacy_read_units += max(1, int(response.get("ScannedCount", response.get("Count", 0)))) * 0.5
        return response

    def _evaluated(self, client: Any, operation: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The items a Query/Scan reads before its filter and projection: the same request without them."""
        bare = {k: v for k, v in params.items()
                if k not in ("FilterExpression", "ProjectionExpression", "Select", "AttributesToGet")}
        used = set().union(*(_referenced(v) for k, v in bare.items() if k.endswith("Expression")))
        for placeholders in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            if placeholders in bare:
                kept = {k: v for k, v in bare[placeholders].items() if k in used}
                if kept:
                    bare[placeholders] = kept
                else:
                    del bare[placeholders]
        return self._call(client, operation, bare).get("Items", [])

    def _write(self, client: Any, operation: str, params: dict[str, Any], usage: Usage) -> Any:
        actions: list[tuple[str, str, dict[str, Any]]] = []  # (kind, table name, key)
        if operation == "TransactWriteItems":
            for entry in params["TransactItems"]:
                (kind, body), = entry.items()
                table = self.table_by_name[body["TableName"]]
                actions.append((kind, body["TableName"], body["Key"] if "Key" in body else table.key_of(body["Item"])))
        elif operation == "BatchWriteItem":
            for name, requests in params["RequestItems"].items():
                table = self.table_by_name[name]
                for request in requests:
                    if "PutRequest" in request:
                        actions.append(("Put", name, table.key_of(request["PutRequest"]["Item"])))
                    else:
                        actions.append(("Delete", name, request["DeleteRequest"]["Key"]))
        else:
            table = self.table_by_name[params["TableName"]]
            actions.append((operation.removesuffix("Item"), params["TableName"],
                            params["Key"] if "Key" in params else table.key_of(params["Item"])))
        befores = [self._full(client, name, key) for _, name, key in actions]
        transactional = operation == "TransactWriteItems"
        try:
            response = self._call(client, operation, params)
        except Exception:
            self.failed_writes += 1
            for before in befores:  # a failed condition still consumes the item's units
                usage.write_units += write_units(item_size(before), 0, transactional)
            usage.legacy_write_units += (2 if transactional else 1) * len(actions)
            raise
        for (kind, name, key), before in zip(actions, befores, strict=True):
            after = self._full(client, name, key)
            usage.write_units += write_units(item_size(before), item_size(after), transactional)
            if kind == "ConditionCheck":
                continue
            table = self.table_by_name[name]
            self.writes.append(Write(table, before, after))
            for index in table.indexes:
                usage.index_write_units[index.name] += index.write_units(before, after)
        usage.legacy_write_units += (2 if transactional else 1) * len(actions)
        return response


# ---------------------------------------------------------------------- running the handlers
@contextlib.contextmanager
def _printed(usage: Usage) -> Iterator[None]:
    """Everything the handler prints (Powertools' JSON lines, EMF metrics), counted as log bytes."""
    import logging

    buffer = io.StringIO()
    handlers = [h for h in logging.getLogger("omo2c").handlers if isinstance(h, logging.StreamHandler)]
    streams = [h.setStream(buffer) for h in handlers]
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            yield
    finally:
        for handler, stream in zip(handlers, streams, strict=True):
            handler.setStream(stream)
        usage.log_bytes += len(buffer.getvalue().encode())


@contextlib.contextmanager
def _production_logging() -> Iterator[None]:
    """The template's INFO level and EMF metrics on (the local stack turns both down)."""
    saved = {k: os.environ.get(k) for k in ("POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_LOG_LEVEL")}
    os.environ.update(POWERTOOLS_METRICS_DISABLED="false", POWERTOOLS_LOG_LEVEL="INFO")
    from omo2c.core.observability import logger

    level = logger.log_level
    logger.setLevel("INFO")
    try:
        yield
    finally:
        logger.setLevel(level)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Stack:
    """The template's functions on the in-process stack, invoked as Lambda and its event source mappings would."""

    def __init__(self, stack: Any, meter: Meter) -> None:
        from infra.local import FunctionHost
        from omo2c.core.aws import client

        self.stack, self.meter = stack, meter
        self.host = FunctionHost(stack.template)
        self.sqs = client("sqs")
        targets = {q for rule in stack.template.rules.values() for q in rule.target_queues}
        self.sources = [(f, s, s.queue in targets) for f in stack.template.functions.values() for s in f.queues]

    def invoke(self, logical_id: str, event: Any, seconds: float, services: Any = None) -> Any:
        from infra.local import LambdaContext

        function = self.stack.template.functions[logical_id]
        with self.meter.acting(logical_id) as usage, _printed(usage):
            usage.invocations += 1
            usage.seconds += seconds
            module = self.host.module(logical_id)
            handler = getattr(module, function.entry_point)
            context = LambdaContext(function)
            return handler(event, context) if services is None else handler(event, context, services=services)

    def drain(self, services: dict[str, Any] | None = None, only: set[str] | None = None) -> None:
        """Every queue the template wires to a function, batch by batch, until all are empty."""
        while True:
            moved = 0
            for function, source, fed_by_rule in self.sources:
                if only is not None and function.logical_id not in only:
                    continue
                handler_services = (services or {}).get(function.logical_id)
                moved += self._batch(function.logical_id, source, fed_by_rule, handler_services)
            if not moved:
                return

    def _batch(self, logical_id: str, source: Any, fed_by_rule: bool, services: Any) -> int:
        url = self.stack.queue_url(source.queue)
        waiting = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        if not int(waiting["Attributes"]["ApproximateNumberOfMessages"]):  # the harness's look, not counted
            return 0
        with self.meter.acting(f"mapping:{source.queue}"):
            got = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(source.batch_size, 10),
                                           AttributeNames=["All"]).get("Messages", [])
        if not got:
            return 0
        if fed_by_rule:  # EventBridge sent each of these to the rule's queue target
            self.meter.usage["EventBridge"].sqs_requests += sum(_chunks(len(m["Body"].encode()), SQS_CHUNK)
                                                                for m in got)
        arn = f"arn:aws:sqs:ap-northeast-1:123456789012:{source.queue}"
        records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                    "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": "ap-northeast-1"} for m in got]
        seconds = A["record_seconds"] * (len(got) if logical_id != "SendWorkerFunction" else
                                         sum(len(json.loads(m["Body"]).get("member_ids", [])) for m in got))
        result = self.invoke(logical_id, {"Records": records}, seconds, services)
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        assert not failed, f"{logical_id} failed {len(failed)} records"
        with self.meter.acting(f"mapping:{source.queue}"):
            self.sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
        return len(got)


def _webhook(stack: Stack, events: list[dict[str, Any]]) -> None:
    from tests.support.aws import http_event
    from tests.support.events import signed_headers

    body = json.dumps({"events": events}, ensure_ascii=False).encode()
    event = http_event("POST", "/webhooks/pos", route="/webhooks/{source}", body=body, path_params={"source": "pos"},
                       headers=signed_headers(body, stack.stack.env["OMO_SOURCE_SECRET_POS"]), caller=None)
    response = stack.invoke("IngestApiFunction", event, A["api_seconds"])
    assert response["statusCode"] == 202, response


@contextlib.contextmanager
def _stack() -> Iterator[tuple[Stack, Meter]]:
    from infra import moto_stack
    from infra.template import Names
    from omo2c import wiring

    with moto_stack.in_process() as stack:
        wiring.reset()
        by_name = {Names(stack.template).ref(logical_id): table for logical_id, table in tables(stack.template).items()}
        meter = Meter(by_name)
        with meter.installed(), _production_logging():
            yield Stack(stack, meter), meter
        wiring.reset()


ORDERS = 10


def _order(kind: str, n: int, day: str) -> dict[str, Any]:
    """Member ``n``'s order as the POS sends it (the sample's customer: phone, name, birthday, SMS consent)."""
    from tests.support.events import pos_order

    event = pos_order(f"{kind}-{n}", order_id=f"{kind}-{n}", phone=f"0955-{n:03d}-201",
                      occurred_at=f"2026-11-{day}T14:05:00+08:00")
    event["customer"]["birthday"] = f"1990-03-{n + 1:02d}"
    return event


def order_run(batch: int = ORDERS) -> tuple[Meter, int, dict[str, int]]:
    """Ten members' first orders and, for every other member, a QR binding to the staff member who sold it (not
    counted); then their second orders through every function. ``batch`` orders are posted before the queues are
    drained (10: full batches; 1: each order alone). Also how many new entries each index got from them."""
    from omo2c import wiring
    from omo2c.binding.model import Binding
    from omo2c.members.storage import parse_identifier

    with _stack() as (stack, meter):
        services = wiring.production()
        services.staff_directory.put_store("ST01", "信義店", None)
        services.staff_directory.put_staff("S001", "王小明", "ST01", "active")
        for n in range(ORDERS):  # first orders, then their whole aftermath
            _webhook(stack, [_order("first", n, "02")])
        stack.drain()
        for n in range(0, ORDERS, 2):
            member = services.members.find_by_identifier(parse_identifier(f"phone#+886955{n:03d}201"))
            assert member is not None
            services.members.bind(member, Binding("S001", "ST01", datetime(2026, 11, 10, tzinfo=UTC)))
        meter.usage.clear()
        counted_from = len(meter.writes)
        for start in range(0, ORDERS, batch):
            for n in range(start, min(start + batch, ORDERS)):
                _webhook(stack, [_order("second", n, "22")])
            stack.drain()
        meter.writes = meter.writes[counted_from:]
        new_entries: Counter[str] = Counter()
        for write in meter.writes:
            for index in write.table.indexes:
                new_entries[index.name] += index.entry(write.before) is None and index.entry(write.after) is not None
        return meter, ORDERS, dict(new_entries)


MESSAGES = 1000


def campaign_run() -> tuple[Meter, int]:
    """A LINE campaign to 1,000 members whose last order was 75 days ago: planned, then sent; messages sent."""
    from bench.campaigns import SEGMENT, CountingMessenger, _load, _member_items
    from omo2c import wiring
    from omo2c.core.settings import Settings

    with _stack() as (stack, meter):
        items = _member_items(MESSAGES, seed=11)
        stale = datetime.now(tz=UTC) - timedelta(days=75)
        for item in items:
            item["last_order_day"] = {"S": (stale + timedelta(hours=8)).strftime("%Y-%m-%d")}
            item["last_order_at"] = {"N": str(int(stale.timestamp() * 1000))}
        _load(items)
        messenger = CountingMessenger()
        services = wiring.Services(Settings.from_env(), messenger=messenger)
        campaign = services.campaign_service.create({
            "name": "bench", "segment": SEGMENT, "message": "本週熟成紅茶 8 折", "channels": ["line"],
            "schedule": "cron(0 11 * * ? *)", "quiet_hours": []})
        meter.writes.clear()
        seconds = A["api_seconds"] + A["planner_seconds_per_member"] * MESSAGES
        result = stack.invoke("CampaignPlannerFunction", {"campaign_id": campaign.campaign_id}, seconds, services)
        assert result.get("jobs"), result
        stack.drain({"SendWorkerFunction": services}, only={"SendWorkerFunction"})
        sent = sum(n for kind, n in messenger.calls if kind == "multicast") + sum(
            1 for kind, _ in messenger.calls if kind == "push")
        return meter, sent


# ---------------------------------------------------------------------- pricing
PLATFORM_LOG_LINES = (  # what Lambda writes itself per invocation (text format, active tracing)
    "START RequestId: 8f5e2d3a-1b2c-4d5e-8f9a-0b1c2d3e4f5a Version: 12\n"
    "END RequestId: 8f5e2d3a-1b2c-4d5e-8f9a-0b1c2d3e4f5a\n"
    "REPORT RequestId: 8f5e2d3a-1b2c-4d5e-8f9a-0b1c2d3e4f5a\tDuration: 31.52 ms\tBilled Duration: 32 ms\t"
    "Memory Size: 512 MB\tMax Memory Used: 121 MB\t\nXRAY TraceId: 1-674c2b1e-6f3a2b1c9d8e7f6a5b4c3d2e\t"
    "SegmentId: 2a3b4c5d6e7f8a9b\tSampled: true\t\n")


def _access_log_bytes() -> int:
    """One HTTP API access log line in the template's format, with values of realistic length."""
    from infra.template import load

    raw = load().raw["Resources"]
    api = next(r for r in raw.values() if r["Type"] == "AWS::Serverless::HttpApi")
    text = api["Properties"]["AccessLogSettings"]["Format"]
    sample = {"requestId": "Ab1Cd2Ef3Gh4Ij5=", "requestTime": "01/Dec/2026:03:04:05 +0000",
              "routeKey": "POST /webhooks/{source}", "status": "202", "responseLatency": "48",
              "integrationLatency": "45", "responseLength": "24", "identity.sourceIp": "203.0.113.10",
              "authorizer.error": "-", "integrationErrorMessage": "-"}
    return len(re.sub(r"\$context\.([A-Za-z.]+)", lambda m: sample.get(m.group(1), "-"), text).encode()) + 1


def function_config(logical_id: str) -> tuple[float, bool]:
    """Memory in GB and whether SnapStart is on, from template.yaml (Globals, then the function)."""
    from infra.template import load

    raw = load().raw
    defaults = (raw.get("Globals") or {}).get("Function") or {}
    props = raw["Resources"][logical_id]["Properties"]
    memory = int(props.get("MemorySize", defaults.get("MemorySize", 128)))
    snap = (props.get("SnapStart") or defaults.get("SnapStart") or {}).get("ApplyOn", "None")
    return memory / 1024, snap == "PublishedVersions"


def snapstart_cache_per_month(logical_id: str) -> float:
    memory, snap = function_config(logical_id)
    return memory * SECONDS_PER_MONTH * A["snapstart_cache_gb_second"] * A["cached_versions"] if snap else 0.0


def price(meter: Meter, per: int, per_month: float, http_requests: float) -> dict[str, float]:
    """USD for ``per`` units of work (orders or messages), by charge; the snapshot cache of the functions that ran
    spread over ``per_month`` units a month."""
    usd: Counter[str] = Counter()
    functions = [a for a, u in meter.usage.items() if u.invocations]
    for actor, usage in meter.usage.items():
        usd["dynamodb_reads"] += usage.read_units * A["ddb_read_request_unit"]
        usd["dynamodb_writes"] += usage.write_units * A["ddb_write_request_unit"]
        usd["dynamodb_index_writes"] += sum(usage.index_write_units.values()) * A["ddb_write_request_unit"]
        usd["sqs"] += usage.sqs_requests * A["sqs_request"]
        usd["eventbridge"] += usage.events * A["eventbridge_event"]
        if actor in functions:
            memory, snap = function_config(actor)
            usd["lambda_requests"] += usage.invocations * A["lambda_request"]
            usd["lambda_duration"] += usage.seconds * memory * A["lambda_gb_second"]
            if snap:
                usd["snapstart_restore"] += usage.invocations * A["restores_per_invocation"] * memory \
                    * A["snapstart_restore_gb"]
            log = usage.log_bytes + usage.invocations * len(PLATFORM_LOG_LINES.encode())
            usd["cloudwatch_logs"] += log / 1024**3 * A["logs_ingest_gb"]
            usd["xray"] += usage.invocations * A["xray_sampled"] * A["xray_trace_recorded"]
    usd["http_api"] += http_requests * A["http_api_request"]
    usd["cloudwatch_logs"] += http_requests * _access_log_bytes() / 1024**3 * A["logs_ingest_gb"]
    usd = Counter({k: v / per for k, v in usd.items()})
    usd["snapstart_cache"] = sum(snapstart_cache_per_month(f) for f in functions) / per_month
    return dict(usd)


def units(meter: Meter, per: int) -> dict[str, float]:
    total = Usage()
    for usage in meter.usage.values():
        total.read_units += usage.read_units
        total.write_units += usage.write_units
        total.index_write_units.update(usage.index_write_units)
        total.legacy_read_units += usage.legacy_read_units
        total.legacy_write_units += usage.legacy_write_units
        total.sqs_requests += usage.sqs_requests
        total.events += usage.events
        total.invocations += usage.invocations
        total.log_bytes += usage.log_bytes + (usage.invocations * len(PLATFORM_LOG_LINES.encode())
                                              if usage.invocations else 0)
        total.requests.update({k: v for k, v in usage.requests.items() if k[0] == "dynamodb"})
    found = {"ddb_rru": total.read_units, "ddb_wru": total.write_units,
             "ddb_index_wru": sum(total.index_write_units.values()),
             "ddb_rru_old_rule": total.legacy_read_units, "ddb_wru_old_rule": total.legacy_write_units,
             "ddb_requests": sum(total.requests.values()), "sqs_requests": total.sqs_requests,
             "events": total.events, "lambda_invocations": total.invocations, "log_bytes": total.log_bytes}
    found.update({f"gsi_wru.{name}": n for name, n in sorted(total.index_write_units.items()) if n})
    return {k: round(v / per, 3) for k, v in found.items()}


def _kind(item: dict[str, Any]) -> str:
    return str(next(iter((item.get("sk") or item.get("id") or {"S": "?"}).values()))).split("#")[0]


def growth(meter: Meter) -> dict[str, float]:
    """Bytes an item gains per update, by kind (its sort key up to the first ``#``): items that grow with every
    order cost more units as they cross 1 KB (writes) and 4 KB (reads)."""
    grown: dict[str, list[int]] = defaultdict(list)
    for write in meter.writes:
        if write.before and write.after:
            grown[_kind(write.after)].append(item_size(write.after) - item_size(write.before))
    return {f"{kind}.bytes_per_update": round(sum(d) / len(d), 1) for kind, d in sorted(grown.items())}


def projections(meter: Meter, per: int, new_entries: dict[str, int] | None = None) -> dict[str, float]:
    """Each index's WRU per million units of work as projected now (ALL), KEYS_ONLY and INCLUDE of what its readers
    use, replayed on the measured writes; the bytes an entry takes (with DynamoDB's 100-byte overhead)."""
    found: dict[str, float] = {}
    indexes = {i.name: i for w in meter.writes for i in w.table.indexes}
    for name, index in sorted(indexes.items()):
        variants = {"all": index.projected("ALL"), "keys_only": index.projected("KEYS_ONLY"),
                    "include": index.projected("INCLUDE", READERS.get(name, ("", ()))[1])}
        writes = [w for w in meter.writes if w.table.logical_id == index.table]
        items = [w.after for w in writes if index.entry(w.after) is not None]
        for label, variant in variants.items():
            wru = sum(variant.write_units(w.before, w.after) for w in writes)
            found[f"{name}.wru_per_million.{label}"] = round(wru * 1e6 / per)
            if items:
                found[f"{name}.entry_bytes.{label}"] = round(sum(map(variant.storage_bytes, items)) / len(items))
        if new_entries and new_entries.get(name) and items:
            gb = new_entries[name] * 1e6 / per * found[f"{name}.entry_bytes.all"] / 1024**3
            found[f"{name}.new_gb_per_million.all"] = round(gb, 3)
            found[f"{name}.new_gb_per_million.keys_only"] = round(gb * found[f"{name}.entry_bytes.keys_only"]
                                                                  / found[f"{name}.entry_bytes.all"], 3)
    return found


# ---------------------------------------------------------------------- the figures
def assumptions_table() -> str:
    rows = [f"| {a.key} | {a.value:.10g} | {a.unit} | {a.region} | {a.source} | {a.read_on} | {a.note} |"
            for a in ASSUMPTIONS]
    rows += [f"| {k} | - | rule | - | {v} | {READ_ON} | |" for k, v in SOURCES.items()]
    head = "| assumption | value | unit | region | source | read | note |\n" + "| --- " * 7 + "|\n"
    return head + "\n".join(rows)


def measure() -> dict[str, float | str]:
    print(assumptions_table(), flush=True)
    results: dict[str, float | str] = {"cost_model.prices_as_of": f"{READ_ON} ({REGION}; see cost_model.assumption.*)"}
    for a in ASSUMPTIONS:
        results[f"cost_model.assumption.{a.key}"] = \
            f"{a.value:.10g} {a.unit} · {a.region} · {a.source} · read {a.read_on}" + (f" · {a.note}" if a.note else "")
    results.update({f"cost_model.source.{k.replace(' ', '_').lower()}": v for k, v in SOURCES.items()})

    meter, orders, new_entries = order_run(ORDERS)
    usd = price(meter, orders, A["orders_per_month"], http_requests=orders)
    results["usd_per_million_orders"] = round(sum(usd.values()) * 1e6, 2)
    results.update({f"cost_model.orders.usd_per_million.{k}": round(v * 1e6, 2) for k, v in sorted(usd.items())})
    results.update({f"cost_model.orders.per_order.{k}": v for k, v in units(meter, orders).items()})
    results["cost_model.orders.failed_writes"] = meter.failed_writes
    results.update({f"cost_model.orders.item_growth.{k}": v for k, v in growth(meter).items()})
    results["cost_model.orders.item_bytes.LOYALTY"] = round(max(
        (item_size(w.after) for w in meter.writes if w.after and _kind(w.after) == "LOYALTY"), default=0))
    results.update({f"cost_model.gsi.orders.{k}": v for k, v in projections(meter, orders, new_entries).items()})
    single, _, _ = order_run(1)
    results["cost_model.orders.batch_of_1.usd_per_million"] = round(
        sum(price(single, orders, A["orders_per_month"], http_requests=orders).values()) * 1e6, 2)

    meter, sent = campaign_run()
    usd = price(meter, sent, A["messages_per_month"], http_requests=0)
    results["usd_per_million_campaign_messages"] = round(sum(usd.values()) * 1e6, 2)
    results.update({f"cost_model.messages.usd_per_million.{k}": round(v * 1e6, 2) for k, v in sorted(usd.items())})
    results.update({f"cost_model.messages.per_message.{k}": v for k, v in units(meter, sent).items()})
    results["cost_model.messages.sent"] = sent
    results.update({f"cost_model.gsi.messages.{k}": v for k, v in projections(meter, sent).items()})

    from infra.template import load

    results["cost_model.snapstart_cache_usd_per_month.all_functions"] = round(
        sum(snapstart_cache_per_month(f) for f in load().functions), 2)
    return results


if __name__ == "__main__":
    for key, value in measure().items():
        print(f"{key}: {value}")
