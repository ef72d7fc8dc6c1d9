"""What every DynamoDB adapter shares: the table base classes, Decimal money, pointing models at
the deployment's tables, one BatchGetItem across item types, and brief caches of what is read often.

Only the ``storage`` modules of each business area import this (and pynamodb).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Generic, TypeVar

from pynamodb.attributes import Attribute, UnicodeAttribute
from pynamodb.constants import NUMBER
from pynamodb.models import Model

from omo2c.core import aws
from omo2c.core.settings import Settings

T = TypeVar("T")


class Brief(Generic[T]):
    """What ``read`` returns, read again once ``ttl`` seconds old (on the monotonic clock) or after
    :meth:`forget` (a change made through this process). Never read counts as older than any TTL: the
    monotonic clock counts from boot, so it may be near zero on a machine that has just started."""

    def __init__(self, ttl: float, read: Callable[[], T]) -> None:
        self.ttl, self.read = ttl, read
        self._kept: tuple[float, T] | None = None

    def get(self) -> T:
        if self._kept is None or time.monotonic() - self._kept[0] >= self.ttl:
            value = self.read()
            self._kept = (time.monotonic(), value)
        return self._kept[1]

    def forget(self) -> None:
        self._kept = None


class DecimalAttribute(Attribute[Decimal]):
    """Money stays Decimal end to end (pynamodb's NumberAttribute would go through float)."""

    attr_type = NUMBER

    def serialize(self, value: Decimal) -> str:
        return str(Decimal(value))

    def deserialize(self, value: str) -> Decimal:
        return Decimal(value)


class MembersTableItem(Model):
    """Base of every item type in the members table (members, identities, orders, staff, codes ...)."""

    class Meta:
        table_name = "omo2c-members"
        region = "ap-northeast-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


def configure(settings: Settings, models: tuple[type[Model], ...], table: str | None = None) -> None:
    """Point the models at this deployment's table, region and (locally) endpoint."""
    aws.share_session_with_pynamodb()
    table_name = table or settings.members_table
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "ap-northeast-1"
    host = os.environ.get("AWS_ENDPOINT_URL_DYNAMODB") or os.environ.get("AWS_ENDPOINT_URL") or None
    for model in models:
        meta: Any = model.Meta
        if (meta.table_name, meta.region, getattr(meta, "host", None)) != (table_name, region, host):
            meta.table_name = table_name
            meta.region = region
            meta.host = host
            model._connection = None


def plain(value: Any) -> Any:
    """pynamodb raw maps hand back MapAttribute objects; the domain wants plain dicts."""
    if hasattr(value, "as_dict"):
        return {k: plain(v) for k, v in value.as_dict().items()}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def batch_get(model: type[Model], keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """One consistent BatchGetItem across item types of one table (pynamodb batches one class at a time)."""
    table = model.Meta.table_name
    client = model._get_connection().connection.client
    pending = [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in dict.fromkeys(keys)]
    found: dict[tuple[str, str], dict[str, Any]] = {}
    attempt = 0
    while pending:
        response = client.batch_get_item(RequestItems={table: {"Keys": pending[:100], "ConsistentRead": True}})
        for raw in response.get("Responses", {}).get(table, []):
            found[(raw["pk"]["S"], raw["sk"]["S"])] = raw
        pending = pending[100:] + response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
        attempt += 1
        if pending and response.get("UnprocessedKeys"):
            time.sleep(min(1.0, 0.02 * 2 ** attempt))
    return found
