"""The transaction speed-up keeps DynamoDB's all-or-nothing behaviour."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import TABLES


def test_a_failed_transaction_leaves_every_item_as_it_was(aws):
    table = TABLES["MembersTable"]
    ddb = boto3.client("dynamodb")
    ddb.put_item(TableName=table, Item={"pk": {"S": "A"}, "sk": {"S": "1"}, "n": {"N": "1"}})
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "B"}, "sk": {"S": "1"}}}},
            {"Update": {"TableName": table, "Key": {"pk": {"S": "A"}, "sk": {"S": "1"}},
                        "UpdateExpression": "SET n = :two", "ExpressionAttributeValues": {":two": {"N": "2"}}}},
            {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "C"}, "sk": {"S": "1"}},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ])
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "B"}, "sk": {"S": "1"}})
    assert ddb.get_item(TableName=table, Key={"pk": {"S": "A"}, "sk": {"S": "1"}})["Item"]["n"] == {"N": "1"}


def test_readers_never_see_a_transaction_half_applied(aws):
    """moto applies a TransactWriteItems item by item; DynamoDB readers see all of it or none."""
    import sys
    import threading
    import time

    table, items, deadline = TABLES["MembersTable"], 10, time.monotonic() + 4
    stop, torn, reads = threading.Event(), [], [0]

    def commit(ddb, generation: int) -> None:
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "TORN"}, "sk": {"S": f"{i:02}"},
                                                  "generation": {"N": str(generation)}}}} for i in range(items)])

    def write() -> None:
        ddb = boto3.client("dynamodb")
        for generation in range(1, 61):
            if stop.is_set() or time.monotonic() > deadline:
                break
            commit(ddb, generation)
        stop.set()

    def read() -> None:
        ddb = boto3.client("dynamodb")
        while not stop.is_set():
            found = ddb.query(TableName=table, KeyConditionExpression="pk = :pk", ConsistentRead=True,
                              ExpressionAttributeValues={":pk": {"S": "TORN"}})["Items"]
            got = ddb.batch_get_item(RequestItems={table: {"ConsistentRead": True, "Keys": [
                {"pk": {"S": "TORN"}, "sk": {"S": f"{i:02}"}} for i in range(items)]}})["Responses"][table]
            for seen in (found, got):
                generations = {item["generation"]["N"] for item in seen}
                if len(seen) != items or len(generations) != 1:
                    torn.append(sorted(generations))
            reads[0] += 1

    commit(boto3.client("dynamodb"), 0)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, as a busy local run does
    try:
        threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=20)
    finally:
        sys.setswitchinterval(switch)
        stop.set()
    assert reads[0] > 10, "the readers never ran alongside the writer"
    assert torn == [], f"{len(torn)} of {reads[0]} reads saw a transaction half applied, e.g. {torn[:3]}"


def test_handlers_find_their_actions_as_moto_lists_them():
    """The per-class list of handler methods is moto's own, and follows a class that gains one."""
    from moto.core import responses, utils
    from moto.sqs.responses import SQSResponse

    from infra import moto_speedups

    moto_speedups.install()
    assert responses.method_names_from_class(SQSResponse) == utils.method_names_from_class(SQSResponse)
    SQSResponse.an_added_action = lambda self: None
    try:
        assert "an_added_action" in responses.method_names_from_class(SQSResponse)
    finally:
        del SQSResponse.an_added_action
    assert "an_added_action" not in responses.method_names_from_class(SQSResponse)
