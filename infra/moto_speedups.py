"""Make moto's DynamoDB transactions behave and cost what they do in DynamoDB.

moto backs up every table a transaction names by deep-copying the *whole table*, once per
item in the transaction, so each TransactWriteItems grows with the table (seconds per call at
a few thousand items). Here the backup covers only the touched items; a failed transaction
restores exactly those. The behaviour seen by callers is unchanged: all-or-nothing, same errors.

moto also applies a transaction item by item while other threads (the local run's gateway
and pollers, moto's own request threads) read, so a reader could see half of one. DynamoDB
never shows that: every DynamoDB request here runs under :data:`DYNAMODB_LOCK`, one at a time.
:func:`dynamodb_writes` counts the requests that may have changed data, for the local run's saver.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

_state = threading.local()
_installed = False
DYNAMODB_LOCK = threading.RLock()
_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems", "DescribeTable", "ListTables",
                    "DescribeTimeToLive", "DescribeEndpoints", "DescribeLimits", "ListTagsOfResource"})
_writes = 0


def dynamodb_writes() -> int:
    """How many DynamoDB requests that may have changed data moto has served (reads not counted)."""
    return _writes


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler

    def table_deepcopy(self: Table, memo: dict[int, Any]) -> Table:
        if getattr(_state, "transaction", False):
            return self
        clone = self.__class__.__new__(self.__class__)
        memo[id(self)] = clone
        for name, value in self.__dict__.items():
            setattr(clone, name, copy.deepcopy(value, memo))
        return clone

    original = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        touched = []
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            key = op.get("Key") or op.get("Item") or {}
            if table.hash_key_attr not in key:
                continue
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
            touched.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
        _state.transaction = True
        try:
            original(self, transact_items)
        except BaseException:
            for table, hash_key, range_key, before in reversed(touched):
                _restore(table, hash_key, range_key, before)
            raise
        finally:
            _state.transaction = False

    call = DynamoHandler.call_action

    def call_action(self: DynamoHandler) -> Any:
        """One DynamoDB request at a time, its response serialised inside: no torn reads."""
        global _writes
        with DYNAMODB_LOCK:
            if self._get_action() not in _READS:
                _writes += 1
            return call(self)

    Table.__deepcopy__ = table_deepcopy
    DynamoDBBackend.transact_write_items = transact_write_items
    DynamoHandler.call_action = call_action
    _installed = True


def _restore(table: Any, hash_key: Any, range_key: Any, before: Any) -> None:
    if table.range_key_attr is not None:
        bucket = table.items[hash_key]
        if before is None:
            bucket.pop(range_key, None)
            if not bucket:
                table.items.pop(hash_key, None)
        else:
            bucket[range_key] = before
    elif before is None:
        table.items.pop(hash_key, None)
    else:
        table.items[hash_key] = before
