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
