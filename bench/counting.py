"""Count AWS requests and DynamoDB consumed capacity by wrapping botocore's API call."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import botocore.client


@dataclass
class Calls:
    """Requests per (service, operation), items read, and DynamoDB capacity units estimated from
    the items each request touches (items under 1 KB written, under 4 KB read, as ours are)."""

    requests: Counter = field(default_factory=Counter)
    items_read: int = 0
    write_units: int = 0
    read_units: float = 0.0

    def total(self, service: str | None = None) -> int:
        return sum(n for (svc, _), n in self.requests.items() if service is None or svc == service)

    def clear(self) -> None:
        self.requests.clear()
        self.items_read = 0
        self.write_units = 0
        self.read_units = 0.0


@contextmanager
def counting() -> Iterator[Calls]:
    calls = Calls()
    original = botocore.client.BaseClient._make_api_call

    def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.requests[(client.meta.service_model.service_name, operation)] += 1
        response = original(client, operation, params)
        consistent = 1.0 if params.get("ConsistentRead") else 0.5
        if operation in ("Query", "Scan"):
            read = int(response.get("ScannedCount", response.get("Count", 0)))
            calls.items_read += read
            calls.read_units += max(1, read) * 0.5
        elif operation == "GetItem":
            calls.items_read += 1 if response.get("Item") else 0
            calls.read_units += consistent
        elif operation == "BatchGetItem":
            read = sum(len(v) for v in response.get("Responses", {}).values())
            calls.items_read += read
            strong = any(t.get("ConsistentRead") for t in params.get("RequestItems", {}).values())
            calls.read_units += max(1, read) * (1.0 if strong else 0.5)
        elif operation == "TransactWriteItems":
            calls.write_units += 2 * len(params.get("TransactItems", []))
        elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
            calls.write_units += 1
        elif operation == "BatchWriteItem":
            calls.write_units += sum(len(v) for v in params.get("RequestItems", {}).values())
        return response

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", counted):
        yield calls


@dataclass
class AwsTime:
    """AWS requests made and the time they took: ``seconds`` for the whole call (botocore's client side and
    the answer), ``moto_seconds`` for moto's own answer (only when moto answers in-process, as under
    ``mock_aws``)."""

    calls: int = 0
    seconds: float = 0.0
    moto_seconds: float = 0.0


@contextmanager
def timing() -> Iterator[AwsTime]:
    """Time every AWS request made inside, each once (a call made while one of the same thread is being timed
    counts within it)."""
    import threading
    import time

    from moto.core.botocore_stubber import BotocoreStubber

    spent, local = AwsTime(), threading.local()
    api_call, answer = botocore.client.BaseClient._make_api_call, BotocoreStubber.process_request

    def timed_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if getattr(local, "inside", False):
            return api_call(client, operation, params)
        local.inside, started = True, time.perf_counter()
        try:
            return api_call(client, operation, params)
        finally:
            local.inside = False
            spent.calls += 1
            spent.seconds += time.perf_counter() - started

    def timed_answer(stubber: Any, request: Any) -> Any:
        started = time.perf_counter()
        try:
            return answer(stubber, request)
        finally:
            spent.moto_seconds += time.perf_counter() - started

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", timed_call), \
            mock.patch.object(BotocoreStubber, "process_request", timed_answer):
        yield spent
