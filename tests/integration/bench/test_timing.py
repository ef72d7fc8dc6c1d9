"""bench.counting.timing: what the throughput benchmark's AWS floor is made of."""

from __future__ import annotations

import boto3

from bench.counting import timing
from tests.conftest import TABLES


def test_every_request_is_timed_once_and_moto_s_answer_inside_it(aws):
    ddb, table = boto3.client("dynamodb"), TABLES["MembersTable"]
    with timing() as spent:
        ddb.put_item(TableName=table, Item={"pk": {"S": "A"}, "sk": {"S": "1"}})
        ddb.get_item(TableName=table, Key={"pk": {"S": "A"}, "sk": {"S": "1"}})
        pages = list(ddb.get_paginator("query").paginate(
            TableName=table, KeyConditionExpression="pk = :a", ExpressionAttributeValues={":a": {"S": "A"}}))
    assert len(pages) == 1 and spent.calls == 3
    assert 0 < spent.moto_seconds < spent.seconds
    ddb.get_item(TableName=table, Key={"pk": {"S": "A"}, "sk": {"S": "1"}})
    assert spent.calls == 3  # nothing is timed once the block is left
