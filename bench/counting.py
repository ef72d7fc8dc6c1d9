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
    requests: Counter = field(default_factory=Counter)
    items_read: int = 0

    def total(self, service: str | None = None) -> int:
        return sum(n for (svc, _), n in self.requests.items() if service is None or svc == service)

    def clear(self) -> None:
        self.requests.clear()
        self.items_read = 0


@contextmanager
def counting() -> Iterator[Calls]:
    calls = Calls()
    original = botocore.client.BaseClient._make_api_call

    def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
        calls.requests[(client.meta.service_model.service_name, operation)] += 1
        response = original(client, operation, params)
        if operation in ("Query", "Scan"):
            calls.items_read += int(response.get("ScannedCount", response.get("Count", 0)))
        elif operation == "GetItem":
            calls.items_read += 1 if response.get("Item") else 0
        elif operation == "BatchGetItem":
            calls.items_read += sum(len(v) for v in response.get("Responses", {}).values())
        return response

    with mock.patch.object(botocore.client.BaseClient, "_make_api_call", counted):
        yield calls
