"""`omo2c import FILE`: load history (canonical events as JSON lines, or a CSV of POS orders) into a stack.

Every line is validated with the canonical model before anything is sent. Events then go, in batches and
``--concurrency`` at a time, through the public signed webhook (``POST /webhooks/{source}``) of the running
``omo2c local`` or of ``--url``, or straight into the ingest queue (``--queue-url``, ``--stack``) in the very
message shape the webhook enqueues, so the worker takes them unchanged. Idempotency is the event id: the worker
records an event id once per source, so sending an event again changes nothing.

Resuming: a state file next to the input (``<FILE>.import-state.json``) counts the events acknowledged in file
order (with concurrency, up to the first one not yet acknowledged); running the same command again sends only
the rest, and refuses a state written for another file or target (``--restart`` ignores it).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import random
import re
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from omo2c.core.errors import validation_details
from omo2c.sources.canonical import MAX_EVENTS_PER_DELIVERY, CanonicalEvent, EventType

STATE_SUFFIX = ".import-state.json"
STATE_VERSION = 1
FINGERPRINT_BYTES = 1 << 20  # the first (and last) MB of the input are hashed, with its size
MAX_BODY_BYTES = 200 * 1024  # under the webhook's 256 KiB limit, leaving room for the {"events": [...]} wrapper
MAX_QUEUE_BATCH_BYTES = 250 * 1024  # SendMessageBatch: 256 KiB for the whole batch
SQS_BATCH = 10
SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, EXIT_STOPPED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# ---------------------------------------------------------------------- the CSV mapping
# column -> where it goes; the README's "Loading history" table says the same.
ORDER_COLUMNS = ("store_id", "staff_id", "referral_code", "channel", "occurred_at", "currency", "total", "discount",
                 "shipping", "version", "coupons")
CUSTOMER_COLUMNS = ("phone", "email", "name", "pos_member_no", "ec_customer_id", "birthday", "consent_sms",
                    "consent_email", "consent_line", "tags")
ITEM_COLUMNS = ("item_sku", "item_name", "item_quantity", "item_price", "item_category")
REFUND_COLUMNS = ("refund_id", "refund_amount", "refund_reason")
KEY_COLUMNS = ("event_id", "type", "order_id")
CSV_COLUMNS = (*KEY_COLUMNS, *ORDER_COLUMNS, *CUSTOMER_COLUMNS, *ITEM_COLUMNS, *REFUND_COLUMNS)
LIST_SEPARATOR = "|"
TRUE, FALSE = frozenset({"true", "yes", "y", "1", "t"}), frozenset({"false", "no", "n", "0", "f"})

CSV_HELP = f"""CSV of POS orders: a header row naming some of these columns (any order, case-insensitive; others are
ignored and listed, or refused with --strict). Blank cells are absent values.
  event_id      optional; else derived from type, store_id, order_id, refund_id and occurred_at (stable)
  type          order.created (default), order.updated, order.refunded, order.cancelled, member.upserted
  occurred_at   ISO 8601, e.g. 2026-11-22T14:05:00+08:00; without an offset in --time-zone
  channel       pos (default) or ec;  store_id, staff_id, referral_code
  order_id, currency (TWD), total (blank: items - discount + shipping), discount, shipping, version,
  coupons ("{LIST_SEPARATOR}"-separated)
  phone, email, name, pos_member_no, ec_customer_id, birthday (YYYY-MM-DD or MM-DD),
  consent_sms, consent_email, consent_line (true/false, yes/no, 1/0), tags ("{LIST_SEPARATOR}"-separated)
  item_sku, item_name, item_quantity (1), item_price, item_category: one order line per row
  refund_id, refund_amount, refund_reason: the refund of an order.refunded row
Consecutive rows of one order (same order_id and type, and event_id or refund_id when given) are one event
with one item per row; their other columns may be blank after the first row but must not differ.
member.upserted rows need an event_id, or a pos_member_no or ec_customer_id to derive it from."""


@dataclass(frozen=True)
class Problem:
    """One reason a line cannot be imported: its line number and field, never the value."""

    line: int
    field: str
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field + ': ' if self.field else ''}{self.problem}"


@dataclass(frozen=True)
class Record:
    """One valid event of the input, in input order: ``index`` counts valid events only."""

    index: int
    line: int
    last_line: int
    source: str
    event_id: str
    body: bytes  # the event's canonical JSON, as both the webhook and the queue carry it
    event: CanonicalEvent = field(repr=False, compare=False)


class Invalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


Locate = Callable[[str], tuple[int, str]]  # a canonical field path -> (input line, the name the input uses)


def _problems(exc: ValidationError, line: int, where: Locate | None = None) -> list[Problem]:
    out = []
    for detail in validation_details(exc):
        path = str(detail["field"])
        at, name = where(path) if where else (line, path)
        out.append(Problem(at, name, str(detail["problem"])))
    return out


def validate(payload: Any, source: str, line: int, where: Locate | None = None) -> tuple[CanonicalEvent, bytes]:
    """The canonical event of one input payload, or Invalid naming each bad field."""
    try:
        event = CanonicalEvent.model_validate(payload)
    except ValidationError as exc:
        raise Invalid(_problems(exc, line, where)) from exc
    if event.customer.member_code:
        raise Invalid([Problem(line, "customer.member_code", "a member card's code is valid for minutes, so history "
                                                            "cannot carry one: give pos_member_no or phone instead")])
    event = event.model_copy(update={"source": source})
    body = event.model_dump_json(exclude_none=True, exclude={"source"}).encode()
    if len(body) > MAX_BODY_BYTES:
        raise Invalid([Problem(line, "", f"the event is {len(body)} bytes; at most {MAX_BODY_BYTES} can be sent")])
    return event, body


# ---------------------------------------------------------------------- readers
Entry = tuple[int, int, str | None, Any, Locate | None] | list[Problem]  # (line, last line, source, payload, where)


def read_jsonl(path: Path, source: str) -> Iterator[Entry]:
    """One canonical event per line (blank lines skipped); a ``source`` field names the webhook source."""
    with path.open(encoding="utf-8-sig") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                payload = json.loads(text)
            except ValueError as exc:
                yield [Problem(number, "", f"not JSON ({getattr(exc, 'msg', 'invalid')} at column "
                                           f"{getattr(exc, 'colno', '?')})")]
                continue
            if not isinstance(payload, dict):
                yield [Problem(number, "", "each line must be one JSON object: a canonical event")]
                continue
            own = payload.pop("source", None)
            name = source if own in (None, "") else str(own).strip().lower()
            if not SOURCE_NAME.fullmatch(name):
                yield [Problem(number, "source", "must be a webhook source name like pos or ec")]
                continue
            yield number, number, name, payload, None


def _boolean(value: str, column: str, line: int) -> bool:
    lowered = value.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise Invalid([Problem(line, column, "must be true/false, yes/no or 1/0 (or blank)")])


def _instant(value: str, zone: ZoneInfo, line: int) -> str:
    text = value.strip().replace("/", "-")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise Invalid([Problem(line, "occurred_at", "must be ISO 8601, e.g. 2026-11-22T14:05:00+08:00 or "
                                                    "2026-11-22 14:05")]) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


def _decimal(value: str, column: str, line: int) -> Decimal:
    try:
        amount = Decimal(value.strip().replace(",", ""))
    except InvalidOperation as exc:
        raise Invalid([Problem(line, column, "must be a number")]) from exc
    if not amount.is_finite():
        raise Invalid([Problem(line, column, "must be a number")])
    return amount


@dataclass
class _Group:
    """Consecutive CSV rows of one event."""

    key: tuple[str, ...] | None
    line: int
    values: dict[str, str]
    items: list[tuple[int, dict[str, str]]]
    last_line: int


def derived_event_id(event_type: str, parts: Iterable[str | None]) -> str:
    """A stable id for a row without one: the same order (type, store, order, refund, time) gets the same id."""
    digest = hashlib.sha256(json.dumps([event_type, *parts], ensure_ascii=False).encode()).hexdigest()
    return f"csv-{digest[:32]}"


class CsvOrders:
    """Maps the rows of a POS export to canonical events (see ``CSV_HELP``)."""

    def __init__(self, path: Path, time_zone: ZoneInfo) -> None:
        self.path = path
        self.zone = time_zone
        self.unknown_columns: list[str] = []

    def __iter__(self) -> Iterator[Entry]:
        with self.path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            try:
                header = next(reader)
            except StopIteration:
                return
            columns = [name.strip().lower() for name in header]
            self.unknown_columns = [c for c in columns if c and c not in CSV_COLUMNS]
            doubled = sorted({c for c in columns if c and columns.count(c) > 1})
            if doubled:
                yield [Problem(1, ", ".join(doubled), "column named more than once")]
                return
            group: _Group | None = None
            seen_keys: dict[tuple[str, ...], int] = {}
            for row in reader:
                line = reader.line_num
                values = {c: v.strip() for c, v in zip(columns, row, strict=False) if c in CSV_COLUMNS and v.strip()}
                if not values:
                    continue
                key = self._key(values)
                if group is not None and key is not None and key == group.key:
                    group.items.append((line, values))
                    group.last_line = line
                    continue
                if group is not None:
                    yield self._event(group)
                if key is not None and key in seen_keys:
                    group = None
                    yield [Problem(line, "order_id", f"this order's rows must follow each other: it started at "
                                                     f"line {seen_keys[key]}")]
                    continue
                if key is not None:
                    seen_keys[key] = line
                group = _Group(key, line, values, [(line, values)], line)
            if group is not None:
                yield self._event(group)

    @staticmethod
    def _key(values: dict[str, str]) -> tuple[str, ...] | None:
        if "order_id" not in values:
            return None
        return (values.get("event_id", ""), values["order_id"], values.get("type", EventType.ORDER_CREATED.value),
                values.get("refund_id", ""))

    def _event(self, group: _Group) -> Entry:
        try:
            payload = self.payload(group)
        except Invalid as exc:
            return exc.problems
        item_lines = [line for line, values in group.items if any(c in values for c in ITEM_COLUMNS)]
        return group.line, group.last_line, None, payload, self.where(group.line, item_lines)

    def payload(self, group: _Group) -> dict[str, Any]:
        merged: dict[str, str] = {}
        for line, values in group.items:
            for column in (*KEY_COLUMNS, *ORDER_COLUMNS, *CUSTOMER_COLUMNS, *REFUND_COLUMNS):
                if column in values:
                    if column in merged and merged[column] != values[column]:
                        raise Invalid([Problem(line, column, f"differs from line {group.line} of the same order")])
                    merged[column] = values[column]
        line = group.line
        event_type = merged.get("type", EventType.ORDER_CREATED.value)
        occurred_at = _instant(merged["occurred_at"], self.zone, line) if "occurred_at" in merged else None
        customer: dict[str, Any] = {c: merged[c] for c in ("phone", "email", "name", "pos_member_no",
                                                           "ec_customer_id", "birthday") if c in merged}
        consent = {c.removeprefix("consent_"): _boolean(merged[c], c, line)
                   for c in ("consent_sms", "consent_email", "consent_line") if c in merged}
        if consent:
            customer["consent"] = consent
        if "tags" in merged:
            customer["tags"] = [t.strip() for t in merged["tags"].split(LIST_SEPARATOR) if t.strip()]
        payload: dict[str, Any] = {"type": event_type, "occurred_at": occurred_at,
                                   "channel": merged.get("channel", "pos"), "customer": customer}
        payload.update({c: merged[c] for c in ("store_id", "staff_id", "referral_code") if c in merged})
        if "order_id" in merged:
            payload["order"] = self._order(merged, group, event_type)
        event_id = merged.get("event_id") or self._derive(event_type, merged, occurred_at, line)
        return {"event_id": event_id, **payload}

    def _order(self, merged: dict[str, str], group: _Group, event_type: str) -> dict[str, Any]:
        order: dict[str, Any] = {"order_id": merged["order_id"]}
        order.update({c: merged[c] for c in ("currency", "total", "discount", "shipping", "version") if c in merged})
        if "coupons" in merged:
            order["coupons"] = [c.strip() for c in merged["coupons"].split(LIST_SEPARATOR) if c.strip()]
        items = []
        for line, values in group.items:
            item = {c.removeprefix("item_"): values[c] for c in ITEM_COLUMNS if c in values}
            if item:
                items.append((line, item))
        order["items"] = [item for _, item in items]
        if "total" not in order and event_type in (EventType.ORDER_CREATED, EventType.ORDER_UPDATED) and items:
            total = Decimal(0)
            for line, item in items:
                price = _decimal(item.get("price", "0"), "item_price", line)
                quantity = _decimal(item.get("quantity", "1"), "item_quantity", line)
                total += price * quantity
            total -= _decimal(merged.get("discount", "0"), "discount", group.line)
            total += _decimal(merged.get("shipping", "0"), "shipping", group.line)
            order["total"] = str(max(total, Decimal(0)))
        if "refund_id" in merged or "refund_amount" in merged:
            refund = {"refund_id": merged.get("refund_id"), "amount": merged.get("refund_amount"),
                      "reason": merged.get("refund_reason")}
            order["refunds"] = [{k: v for k, v in refund.items() if v is not None}]
        return order

    @staticmethod
    def _derive(event_type: str, merged: dict[str, str], occurred_at: str | None, line: int) -> str:
        if occurred_at is None:
            raise Invalid([Problem(line, "occurred_at", "Field required")])
        instant = datetime.fromisoformat(occurred_at).timestamp()
        if "order_id" in merged:
            return derived_event_id(event_type, [merged.get("store_id"), merged["order_id"], merged.get("refund_id"),
                                                 str(instant)])
        anchor = merged.get("pos_member_no") or merged.get("ec_customer_id")
        if anchor is None:
            raise Invalid([Problem(line, "event_id", "required on a row without order_id, pos_member_no or "
                                                     "ec_customer_id (nothing else identifies the row stably)")])
        return derived_event_id(event_type, [anchor, str(instant)])

    @staticmethod
    def where(group_line: int, item_lines: list[int]) -> Locate:
        """A canonical field path as the CSV column (and row) it came from."""

        def locate(path: str) -> tuple[int, str]:
            parts = path.split(".")
            if parts[:2] == ["order", "items"] and len(parts) >= 3 and parts[2].isdigit():
                index = int(parts[2])
                at = item_lines[index] if index < len(item_lines) else group_line
                return at, f"item_{parts[3]}" if len(parts) > 3 else "item"
            if parts[:2] == ["order", "refunds"] and len(parts) > 3:
                return group_line, {"amount": "refund_amount", "refund_id": "refund_id",
                                    "reason": "refund_reason"}.get(parts[3], path)
            if parts[:2] == ["customer", "consent"] and len(parts) > 2:
                return group_line, f"consent_{parts[2]}"
            if parts[0] in ("customer", "order") and len(parts) == 2:
                return group_line, parts[1]
            return group_line, path or "row"

        return locate


def records(path: Path, source: str, *, time_zone: ZoneInfo, kind: str | None = None,
            on_problem: Callable[[Problem], None] = lambda p: None,
            on_columns: Callable[[list[str]], None] = lambda c: None) -> Iterator[Record]:
    """The valid events of the input in order (the same ones, in the same order, on every read)."""
    kind = kind or ("csv" if path.suffix.lower() == ".csv" else "jsonl")
    csv_rows = CsvOrders(path, time_zone) if kind == "csv" else None
    stream: Iterable[Entry] = csv_rows if csv_rows is not None else read_jsonl(path, source)
    seen: dict[tuple[str, str], int] = {}
    index = 0
    for entry in stream:
        if isinstance(entry, list):
            for problem in entry:
                on_problem(problem)
            continue
        line, _last, own_source, payload, where = entry
        name = own_source or source
        try:
            event, body = validate(payload, name, line, where)
        except Invalid as exc:
            for problem in exc.problems:
                on_problem(problem)
            continue
        key = (name, event.event_id)
        if key in seen:
            on_problem(Problem(line, "event_id", f"repeats the event id of line {seen[key]}"))
            continue
        seen[key] = line
        yield Record(index, line, _last, name, event.event_id, body, event)
        index += 1
    if csv_rows is not None and csv_rows.unknown_columns:
        on_columns(csv_rows.unknown_columns)


# ---------------------------------------------------------------------- the checkpoint
class Checkpoint:
    """Counts the events acknowledged in input order: with batches finishing out of order, ``done`` is the index
    of the first event not acknowledged yet, so everything before it may be skipped on a resume."""

    def __init__(self, done: int = 0, line: int = 0) -> None:
        self.done = done
        self.line = line  # the last input line of the last event counted in ``done``
        self._finished: dict[int, tuple[int, int]] = {}  # start -> (end, last line)

    def ack(self, start: int, end: int, last_line: int) -> bool:
        """Events ``start`` to ``end - 1`` are acknowledged; whether ``done`` moved."""
        if end <= self.done:
            return False
        self._finished[max(start, 0)] = (end, last_line)
        moved = False
        while self.done in self._finished:
            self.done, self.line = self._finished.pop(self.done)
            moved = True
        for begun in [s for s, (e, _) in self._finished.items() if e <= self.done]:  # overlaps left behind
            del self._finished[begun]
        return moved

    @property
    def pending(self) -> int:
        """Events acknowledged beyond ``done`` (they will be sent again on a resume, harmlessly)."""
        return sum(end - start for start, (end, _) in self._finished.items())


def fingerprint(path: Path) -> dict[str, Any]:
    size = path.stat().st_size
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        digest.update(handle.read(FINGERPRINT_BYTES))
        if size > FINGERPRINT_BYTES:
            handle.seek(max(FINGERPRINT_BYTES, size - FINGERPRINT_BYTES))
            digest.update(handle.read())
    return {"size": size, "sha256_head_tail": digest.hexdigest()}


class StateMismatch(Exception):
    pass


class StateFile:
    """``<FILE>.import-state.json``: what was acknowledged of which input for which target, written atomically."""

    def __init__(self, path: Path, input_path: Path, target: str) -> None:
        self.path = path
        self.input = input_path
        self.target = target
        self.print = fingerprint(input_path)

    def load(self) -> tuple[int, int, list[dict[str, Any]]]:
        """(events done, their last line, rejected events) of a previous run, or zeros."""
        if not self.path.exists():
            return 0, 0, []
        try:
            state = json.loads(self.path.read_text())
        except ValueError as exc:
            raise StateMismatch(f"{self.path} is not an import state file; --restart to start again") from exc
        if state.get("version") != STATE_VERSION or state.get("input") != self.print:
            raise StateMismatch(f"{self.path} was written for another version of {self.input.name} (its size or "
                                f"content changed): --restart to send the whole file again (events already "
                                f"accepted change nothing)")
        if state.get("target") != self.target:
            raise StateMismatch(f"{self.path} records an import into {state.get('target')}, not {self.target}: "
                                f"--restart to send the whole file there")
        return int(state["events_done"]), int(state.get("lines_done", 0)), list(state.get("rejected") or [])

    def save(self, checkpoint: Checkpoint, total: int, rejected: list[dict[str, Any]]) -> None:
        state = {"version": STATE_VERSION, "input": self.print, "file": str(self.input), "target": self.target,
                 "events_done": checkpoint.done, "lines_done": checkpoint.line, "events_total": total,
                 "complete": checkpoint.done >= total, "rejected": rejected,
                 "updated_at": datetime.now().astimezone().isoformat(timespec="seconds")}
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(state, ensure_ascii=False, indent=1))
        os.replace(temporary, self.path)


# ---------------------------------------------------------------------- senders
class Retry(Exception):
    """A transient failure (429, 5xx, a connection error): the same batch may be sent again."""

    def __init__(self, reason: str, after: float | None = None) -> None:
        super().__init__(reason)
        self.after = after


class Fatal(Exception):
    """Nothing more can be sent (wrong secret, unknown source, no permission)."""


class Refused(Exception):
    """The target refused these events as they are (400/413/422); ``details`` name fields per event index."""

    def __init__(self, reason: str, details: list[dict[str, Any]] | None = None, too_large: bool = False) -> None:
        super().__init__(reason)
        self.details = details or []
        self.too_large = too_large


@dataclass
class Acknowledged:
    accepted: int = 0
    ignored: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: Acknowledged) -> Acknowledged:
        return Acknowledged(self.accepted + other.accepted, self.ignored + other.ignored,
                            self.rejected + other.rejected)


class WebhookSender:
    """``POST /webhooks/{source}`` signed as a generic source signs (X-Omo-Timestamp, X-Omo-Signature)."""

    max_events = MAX_EVENTS_PER_DELIVERY
    max_bytes = MAX_BODY_BYTES

    def __init__(self, base_url: str, secret_for: Callable[[str], str], timeout: float = 30.0,
                 session_factory: Callable[[], Any] | None = None) -> None:
        self.base = base_url.rstrip("/")
        self.secret_for = secret_for
        self.timeout = timeout
        self._local = threading.local()
        self._session_factory = session_factory

    def describe(self) -> str:
        return f"{self.base}/webhooks/{{source}}"

    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            if self._session_factory is not None:
                session = self._session_factory()
            else:
                import requests

                session = requests.Session()
            self._local.session = session
        return session

    def send(self, source: str, batch: list[Record]) -> Acknowledged:
        import requests

        from omo2c.sources.signatures import omo_signature

        body = b'{"events":[' + b",".join(r.body for r in batch) + b"]}"
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "X-Omo-Timestamp": timestamp,
                   "X-Omo-Signature": omo_signature(self.secret_for(source), timestamp, body),
                   "User-Agent": "omo2c-import"}
        try:
            response = self._session().post(f"{self.base}/webhooks/{source}", data=body, headers=headers,
                                            timeout=self.timeout)
        except requests.RequestException as exc:
            raise Retry(f"{type(exc).__name__}") from exc
        status = response.status_code
        if status == 202:
            answer = _json(response)
            accepted = set(answer.get("accepted") or [])
            missing = [r.event_id for r in batch if r.event_id not in accepted]
            if missing:
                raise Retry(f"202 without {len(missing)} of the event ids sent")
            return Acknowledged(len(batch), list(answer.get("ignored") or []))
        reason = f"{status} {str(_json(response).get('message') or response.reason or '')[:200]}".strip()
        if status == 429 or status >= 500 or status == 408:
            raise Retry(reason, _retry_after(response.headers.get("Retry-After")))
        if status == 413:
            raise Refused(reason, too_large=True)
        if status in (400, 422):
            raise Refused(reason, list(_json(response).get("details") or []))
        if status == 401:
            raise Fatal(f"{reason}: the signature was refused. Is the secret of source {source!r} right "
                        f"(--secret or OMO_SOURCE_SECRET_{source.upper().replace('-', '_')}), is it a generic "
                        f"source, and is this machine's clock right (5 minutes)?")
        if status == 404:
            raise Fatal(f"{reason}: is {source!r} a configured source (WebhookSources) of {self.base}?")
        raise Fatal(reason)


def _json(response: Any) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _retry_after(value: str | None) -> float | None:
    try:
        return min(60.0, max(0.0, float(value))) if value else None
    except ValueError:
        return None


class QueueSender:
    """SendMessageBatch into the ingest queue, each message exactly as the webhook enqueues it
    (:class:`omo2c.sources.queue.IngestQueue`), after the edge's own rule on LINE user ids."""

    max_events = SQS_BATCH
    max_bytes = MAX_QUEUE_BATCH_BYTES

    def __init__(self, queue_url: str, sqs: Any, settings: Any = None) -> None:
        from omo2c.core.queues import BatchSender
        from omo2c.core.settings import Settings
        from omo2c.sources.queue import IngestQueue

        self.queue_url = queue_url
        self.queue = IngestQueue(BatchSender(queue_url, sqs))
        self.settings = settings or Settings.from_env()

    def describe(self) -> str:
        return self.queue_url

    def send(self, source: str, batch: list[Record]) -> Acknowledged:
        from botocore.exceptions import BotoCoreError, ClientError

        from omo2c.core.queues import QueueRefused
        from omo2c.sources.intake import without_untrusted_line_id

        checked = [without_untrusted_line_id(r.event, source, self.settings) for r in batch]
        try:
            self.queue.send([event for event, _ in checked])
        except QueueRefused as exc:
            if "refused" in exc.message:
                raise Refused(exc.message) from exc
            raise Retry(exc.message) from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("AccessDenied", "AccessDeniedException", "AWS.SimpleQueueService.NonExistentQueue",
                        "QueueDoesNotExist", "InvalidClientTokenId", "UnrecognizedClientException"):
                raise Fatal(f"{code}: cannot send to {self.queue_url}") from exc
            if code in ("BatchRequestTooLong",):
                raise Refused(code, too_large=True) from exc
            raise Retry(code or "ClientError") from exc
        except BotoCoreError as exc:
            raise Retry(type(exc).__name__) from exc
        return Acknowledged(len(batch), [note for _, note in checked if note is not None])


# ---------------------------------------------------------------------- progress
class ProgressBar:
    """One line on stderr, redrawn in place on a terminal (a line every few seconds elsewhere)."""

    WIDTH = 28

    def __init__(self, total: int, start: int = 0, stream: TextIO | None = None, quiet: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total, self.start, self.done = total, start, start
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.clock = clock
        self.began = clock()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._drawn = 0.0
        self._width = 0
        self._last = ""

    def rate(self) -> float:
        elapsed = self.clock() - self.began
        return (self.done - self.start) / elapsed if elapsed > 0 else 0.0

    def text(self) -> str:
        share = self.done / self.total if self.total else 1.0
        filled = int(self.WIDTH * share)
        rate = self.rate()
        left = self.total - self.done
        eta = _duration(left / rate) if rate > 0 and left else ("0:00" if not left else "--:--")
        return (f"import [{'#' * filled}{'.' * (self.WIDTH - filled)}] {self.done}/{self.total} events "
                f"{share:4.0%}  {rate:.1f} events/s  ETA {eta}")

    def update(self, done: int, force: bool = False) -> None:
        self.done = done
        if self.quiet:
            return
        now = self.clock()
        if not force and now - self._drawn < (0.1 if self.tty else 5.0):
            return
        line = self.text()
        if not self.tty and line == self._last:
            return
        self._drawn, self._last = now, line
        if self.tty:
            self.stream.write("\r" + line + " " * max(0, self._width - len(line)))
            self._width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if not self.quiet:
            self.update(self.done, force=True)
            if self.tty:
                self.stream.write("\n")
                self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


# ---------------------------------------------------------------------- the import
def batches(stream: Iterable[Record], max_events: int, max_bytes: int) -> Iterator[list[Record]]:
    """Consecutive records of one source, at most ``max_events`` and about ``max_bytes`` of bodies each."""
    batch: list[Record] = []
    size = 0
    for record in stream:
        if batch and (record.source != batch[0].source or len(batch) >= max_events
                      or size + len(record.body) + 1 > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(record)
        size += len(record.body) + 1
    if batch:
        yield batch


@dataclass
class Result:
    total: int
    resumed_from: int
    checkpoint: Checkpoint
    acknowledged: Acknowledged
    seconds: float
    sent: int = 0  # acknowledged in this run, in order or not
    error: str | None = None
    interrupted: bool = False

    @property
    def complete(self) -> bool:
        return self.checkpoint.done >= self.total


class Importer:
    """Sends records in batches, ``concurrency`` at a time, advancing and saving the checkpoint as they finish."""

    def __init__(self, sender: Any, *, concurrency: int = 8, batch_size: int | None = None, retries: int = 5,
                 backoff: float = 0.5, save_every: float = 0.5, sleep: Callable[[float], None] | None = None) -> None:
        self.sender = sender
        self.concurrency = max(1, concurrency)
        self.batch_size = min(batch_size or sender.max_events, sender.max_events)
        self.retries = max(0, retries)
        self.backoff = backoff
        self.save_every = save_every
        self.stop = threading.Event()
        self._sleep = sleep

    def _wait(self, seconds: float) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
        else:
            self.stop.wait(seconds)

    def deliver(self, batch: list[Record]) -> Acknowledged:
        """One batch, retried on transient failures, split to find the events a target refuses."""
        attempt = 0
        while True:
            try:
                return self.sender.send(batch[0].source, batch)
            except Retry as exc:
                if attempt >= self.retries or self.stop.is_set():
                    raise Fatal(f"lines {batch[0].line}-{batch[-1].last_line}: {exc} (after {attempt + 1} "
                                f"attempts)") from exc
                delay = exc.after if exc.after is not None else self.backoff * 2 ** attempt
                self._wait(min(30.0, delay) * (1 + random.random() / 4))  # noqa: S311 - jitter, not a secret
                attempt += 1
            except Refused as exc:
                if len(batch) > 1:
                    half = len(batch) // 2
                    return self.deliver(batch[:half]).add(self.deliver(batch[half:]))
                return Acknowledged(rejected=[_rejection(batch[0], exc)])

    def run(self, stream: Iterable[Record], total: int, checkpoint: Checkpoint, *,
            on_progress: Callable[[int], None] = lambda done: None,
            on_save: Callable[[Checkpoint, list[dict[str, Any]]], None] = lambda c, r: None,
            rejected: list[dict[str, Any]] | None = None) -> Result:
        from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

        began = time.monotonic()
        resumed_from = checkpoint.done
        acknowledged = Acknowledged(rejected=list(rejected or []))
        counted = checkpoint.done
        error: str | None = None
        interrupted = False
        last_save = 0.0
        first = checkpoint.done
        skipped = (record for record in stream if record.index >= first)
        pending: dict[Future[Acknowledged], list[Record]] = {}
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="import")
        source = iter(batches(skipped, self.batch_size, self.sender.max_bytes))
        exhausted = False

        def settle(done_futures: Iterable[Future[Acknowledged]]) -> None:
            nonlocal acknowledged, counted, error, last_save
            for future in done_futures:
                batch = pending.pop(future)
                try:
                    outcome = future.result()
                except Fatal as exc:
                    error = error or str(exc)
                    self.stop.set()
                    continue
                except Exception as exc:
                    error = error or f"lines {batch[0].line}-{batch[-1].last_line}: {type(exc).__name__}: {exc}"
                    self.stop.set()
                    continue
                acknowledged = acknowledged.add(outcome)
                counted += len(batch)
                checkpoint.ack(batch[0].index, batch[-1].index + 1, batch[-1].last_line)
            if time.monotonic() - last_save >= self.save_every:
                on_save(checkpoint, acknowledged.rejected)
                last_save = time.monotonic()

        try:
            while True:
                while not exhausted and not self.stop.is_set() and len(pending) < self.concurrency * 2:
                    batch = next(source, None)
                    if batch is None:
                        exhausted = True
                        break
                    pending[pool.submit(self.deliver, batch)] = batch
                if not pending:
                    break
                finished, _ = wait(list(pending), timeout=0.2, return_when=FIRST_COMPLETED)
                settle(finished)
                on_progress(counted)
        except KeyboardInterrupt:
            interrupted = True
            self.stop.set()
            for future in list(pending):
                if future.cancel():
                    pending.pop(future)
            try:
                finished, _ = wait(list(pending), timeout=60)
                settle(finished)
            except KeyboardInterrupt:
                pass
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            on_save(checkpoint, acknowledged.rejected)
            on_progress(counted)
        return Result(total, resumed_from, checkpoint, acknowledged, time.monotonic() - began, counted - resumed_from,
                      error, interrupted)


def _rejection(record: Record, exc: Refused) -> dict[str, Any]:
    fields = sorted({re.sub(r"^events\.\d+\.", "", str(d.get("field", ""))) for d in exc.details} - {""})
    return {"line": record.line, "event_id": record.event_id, "reason": str(exc)[:200], "fields": fields}


# ---------------------------------------------------------------------- the command
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = CSV_HELP + "\n\nExit status: 0 all sent; 1 all sent but some lines invalid or refused; 2 nothing " \
                               "sent (usage, --strict, state of another file); 3 stopped by a failure, 130 " \
                               "interrupted: run the same command again to resume."
    parser.add_argument("file", type=Path, help="a .jsonl of canonical events (one per line) or a .csv of POS orders")
    parser.add_argument("--format", choices=("jsonl", "csv"), default=None, help="default: by the file's suffix")
    parser.add_argument("--source", default="pos", help="webhook source of the events (default pos); a JSON line's "
                                                        "own `source` field wins")
    group = parser.add_argument_group("target (default: the running `omo2c local`, through its webhook)")
    target = group.add_mutually_exclusive_group()
    target.add_argument("--url", default=None, help="base URL of a deployed API (the stack's ApiUrl output): "
                                                    "events go through POST /webhooks/{source}")
    group.add_argument("--secret", default=None, help="the source's signing secret (default: "
                                                       "OMO_SOURCE_SECRET_<SOURCE>, or the local run's)")
    target.add_argument("--queue-url", default=None, metavar="URL",
                        help="send straight to this ingest queue (SendMessageBatch, with the AWS credentials of the "
                             "environment); `local`: the running local run's")
    target.add_argument("--stack", default=None, metavar="NAME",
                        help="send straight to the IngestQueue of this deployed stack")
    parser.add_argument("--concurrency", type=int, default=8, metavar="N", help="requests in flight (default 8)")
    parser.add_argument("--batch-size", type=int, default=None, metavar="N",
                        help=f"events per request (default and most: {MAX_EVENTS_PER_DELIVERY} through the webhook, "
                             f"{SQS_BATCH} per SendMessageBatch)")
    parser.add_argument("--retries", type=int, default=5, metavar="N",
                        help="retries of a batch on 429/5xx/timeouts (default 5)")
    parser.add_argument("--time-zone", default="Asia/Taipei", metavar="TZ", help="of CSV times without an offset")
    parser.add_argument("--strict", action="store_true", help="send nothing when any line is invalid (or a CSV "
                                                              "column unknown)")
    parser.add_argument("--check", action="store_true", help="only validate the file and report; send nothing")
    parser.add_argument("--restart", action="store_true", help="ignore the state file: send the whole file again")
    parser.add_argument("--state", type=Path, default=None, metavar="FILE",
                        help=f"state file (default FILE{STATE_SUFFIX})")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _sender(args: argparse.Namespace) -> Any:
    """The sender the arguments name; raises Fatal when there is no target."""
    from omo2c.core.secrets import env_name

    if args.queue_url or args.stack:
        import boto3

        endpoint = None
        queue_url = args.queue_url
        if args.stack:
            resource = boto3.client("cloudformation").describe_stack_resource(StackName=args.stack,
                                                                             LogicalResourceId="IngestQueue")
            queue_url = resource["StackResourceDetail"]["PhysicalResourceId"]
        elif queue_url == "local":
            state = _local_run()
            if state is None:
                raise Fatal("no running `omo2c local` for --queue-url local")
            os.environ.update(state["env"])
            queue_url, endpoint = state["env"]["OMO_INGEST_QUEUE_URL"], state["aws_endpoint"]
        else:
            state = _local_run()
            if state is not None and queue_url.startswith(state["aws_endpoint"]):
                os.environ.update(state["env"])
                endpoint = state["aws_endpoint"]
        from botocore.config import Config

        config = Config(retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=max(10, args.concurrency))
        return QueueSender(queue_url, boto3.session.Session().client("sqs", endpoint_url=endpoint, config=config))
    local_env: dict[str, str] = {}
    url = args.url
    if url is None:
        state = _local_run()
        if state is None:
            raise Fatal("no running `omo2c local` here (start it, or pass --url, --queue-url or --stack)")
        url, local_env = state["url"], state.get("env") or {}

    def secret_for(source: str) -> str:
        name = env_name(f"source-secret/{source}")
        value = args.secret or os.environ.get(name) or local_env.get(name)
        if not value:
            raise Fatal(f"no secret for source {source!r}: pass --secret or set {name}")
        return value

    return WebhookSender(url, secret_for)


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a `kill`, a CI timeout) stops like Ctrl-C: what was acknowledged is saved first."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _local_run() -> dict[str, Any] | None:
    from infra.cli import _running_stack

    return _running_stack()


def main(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        _say(f"no such file: {path}")
        return EXIT_USAGE
    try:
        zone = ZoneInfo(args.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        _say(f"unknown time zone {args.time_zone!r}")
        return EXIT_USAGE
    source = args.source.strip().lower()
    if not SOURCE_NAME.fullmatch(source):
        _say(f"--source {args.source!r} is not a source name like pos or ec")
        return EXIT_USAGE
    if not 1 <= args.concurrency <= 64 or (args.batch_size is not None and not 1 <= args.batch_size <= 100):
        _say("--concurrency is 1 to 64 and --batch-size 1 to 100")
        return EXIT_USAGE
    kind = args.format or ("csv" if path.suffix.lower() == ".csv" else "jsonl")

    problems: list[Problem] = []
    ignored_columns: list[str] = []

    def read(collect: bool) -> Iterator[Record]:
        return records(path, source, time_zone=zone, kind=kind,
                       on_problem=problems.append if collect else lambda p: None,
                       on_columns=ignored_columns.extend if collect else lambda c: None)

    total = sum(1 for _ in read(collect=True))  # first pass: validate everything before sending anything
    for problem in problems[:50]:
        _say(f"{path.name}: {problem}")
    if len(problems) > 50:
        _say(f"{path.name}: … and {len(problems) - 50} more problems")
    if ignored_columns:
        _say(f"{path.name}: columns not imported: {', '.join(ignored_columns)}")
    if not args.quiet:
        _say(f"{path.name}: {total} valid events" + (f", {len({p.line for p in problems})} invalid lines skipped"
                                                      if problems and not args.strict else ""))
    if args.check or (args.strict and (problems or ignored_columns)):
        if not args.check:
            _say("--strict: nothing was sent")
        print(json.dumps({"file": str(path), "events": total, "invalid_lines": len({p.line for p in problems}),
                          "problems": [str(p) for p in problems[:200]]}, ensure_ascii=False))
        return EXIT_USAGE if problems else EXIT_OK
    try:
        sender = _sender(args)
    except Fatal as exc:
        _say(str(exc))
        return EXIT_USAGE
    state = StateFile(args.state or path.with_name(path.name + STATE_SUFFIX), path, sender.describe())
    try:
        done, line, rejected = (0, 0, []) if args.restart else state.load()
    except StateMismatch as exc:
        _say(str(exc))
        return EXIT_USAGE
    checkpoint = Checkpoint(min(done, total), line)
    if checkpoint.done >= total:
        _say(f"nothing left to send: all {total} events of {path.name} were acknowledged "
             f"(--restart sends them again)")
    elif checkpoint.done:
        _say(f"resuming after line {checkpoint.line}: {checkpoint.done} of {total} events were acknowledged "
             f"(--restart sends them again)")
    bar = ProgressBar(total, checkpoint.done, quiet=args.quiet)
    importer = Importer(sender, concurrency=args.concurrency, batch_size=args.batch_size, retries=args.retries)
    with _terminate_as_interrupt():
        result = importer.run(read(collect=False), total, checkpoint, on_progress=bar.update,
                              on_save=lambda c, r: state.save(c, total, r), rejected=rejected)
    bar.close()
    fields = Counter(str(note.get("field")) for note in result.acknowledged.ignored)
    sent = result.sent
    summary = {"file": str(path), "target": sender.describe(), "events": total,
               "invalid_lines": len({p.line for p in problems}), "resumed_from": result.resumed_from,
               "acknowledged": result.checkpoint.done, "sent": sent, "rejected": len(result.acknowledged.rejected),
               "ignored_fields": dict(fields), "seconds": round(result.seconds, 2),
               "events_per_second": round(sent / result.seconds, 1) if result.seconds > 0 else None,
               "complete": result.complete, "state_file": str(state.path)}
    for rejection in result.acknowledged.rejected[:20]:
        _say(f"{path.name}: line {rejection['line']}: refused by the target: {rejection['reason']}"
             + (f" ({', '.join(rejection['fields'])})" if rejection["fields"] else ""))
    print(json.dumps(summary, ensure_ascii=False))
    if result.interrupted or result.error:
        why = "interrupted" if result.interrupted else f"stopped: {result.error}"
        _say(f"{why}; {result.checkpoint.done} of {total} events acknowledged in order (up to line "
             f"{result.checkpoint.line}). Run the same command again to send the rest.")
        return EXIT_INTERRUPTED if result.interrupted else EXIT_STOPPED
    return EXIT_SKIPPED if problems or result.acknowledged.rejected else EXIT_OK
