"""moto's SQS, EventBridge, Query and serialiser speed-ups (infra/moto_speedups.py) answer as moto does."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import TABLES

COUNTS = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"]


def _counts(sqs, url) -> tuple[int, int, int]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=COUNTS)["Attributes"]
    return tuple(int(attributes[name]) for name in COUNTS)  # type: ignore[return-value]


def test_the_counts_follow_send_receive_delete_and_visibility(aws):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="counted", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    for n in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=str(n))
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    assert _counts(sqs, url) == (5, 0, 1)

    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3)["Messages"]
    assert [m["Body"] for m in got] == ["0", "1", "2"]  # oldest first, as moto's list has them
    assert _counts(sqs, url) == (2, 3, 1)

    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    assert _counts(sqs, url) == (2, 2, 1)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])  # again: quietly accepted
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got[1]["ReceiptHandle"], VisibilityTimeout=0)
    time.sleep(0.01)
    assert _counts(sqs, url) == (3, 1, 1)

    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in again] == ["1", "3", "4"]  # the delayed one stays hidden
    assert _counts(sqs, url) == (0, 4, 1)
    result = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate([*again, got[2]])])
    assert len(result["Successful"]) == 4
    assert _counts(sqs, url) == (0, 0, 1)


def test_a_message_is_visible_again_when_its_timeout_passes(aws):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="expiring")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    first = sqs.receive_message(QueueUrl=url, VisibilityTimeout=1)["Messages"][0]
    assert _counts(sqs, url) == (0, 1, 0)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    time.sleep(1.1)
    assert _counts(sqs, url) == (1, 0, 0)
    second = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert second["MessageId"] == first["MessageId"] and second["Attributes"]["ApproximateReceiveCount"] == "2"
    # an earlier receipt handle of the message still names it, as in moto
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    assert _counts(sqs, url) == (0, 0, 0)


def test_unknown_receipt_handles_are_refused_as_moto_does(aws):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="strict")["QueueUrl"]
    other = sqs.create_queue(QueueName="other")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    handle = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    with pytest.raises(ClientError) as error:
        sqs.delete_message(QueueUrl=other, ReceiptHandle=handle)  # a handle of another queue
    assert error.value.response["Error"]["Code"] == "ReceiptHandleIsInvalid"
    with pytest.raises(ClientError) as error:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle="nonsense", VisibilityTimeout=5)
    assert error.value.response["Error"]["Code"] == "ReceiptHandleIsInvalid"
    failed = sqs.change_message_visibility_batch(QueueUrl=other, Entries=[
        {"Id": "a", "ReceiptHandle": handle, "VisibilityTimeout": 5}])["Failed"]
    assert [f["Code"] for f in failed] == ["ReceiptHandleIsInvalid"]
    time.sleep(0.01)
    with pytest.raises(ClientError) as error:  # 12 hours from now is past 12 hours since it was sent
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=43200)
    assert "beyond the limit [43200 seconds]" in str(error.value)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    assert _counts(sqs, url)[0] == 1


def test_the_redrive_policy_still_moves_a_message_to_its_dead_letter_queue(aws):
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="dead")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="redriven", Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    sqs.send_message(QueueUrl=url, MessageBody="fine")
    for _ in range(2):
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]:
            if message["Body"] == "fine":
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            else:
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
                                              VisibilityTimeout=0)
        time.sleep(0.01)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # the third receive sends it on
    assert _counts(sqs, url) == (0, 0, 0)
    assert _counts(sqs, dlq) == (1, 0, 0)
    dead = sqs.receive_message(QueueUrl=dlq)["Messages"]
    assert [m["Body"] for m in dead] == ["poison"]
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=dead[0]["ReceiptHandle"])
    assert _counts(sqs, dlq) == (0, 0, 0)


def test_purge_empties_the_counts(aws):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="purged")["QueueUrl"]
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=str(n))
    handle = sqs.receive_message(QueueUrl=url)["Messages"][0]["ReceiptHandle"]
    sqs.purge_queue(QueueUrl=url)
    assert _counts(sqs, url) == (0, 0, 0)
    with pytest.raises(ClientError):
        sqs.delete_message(QueueUrl=url, ReceiptHandle=handle)
    sqs.send_message(QueueUrl=url, MessageBody="after")
    assert _counts(sqs, url) == (1, 0, 0)


def test_long_polling_returns_as_soon_as_a_message_arrives(aws):
    import threading

    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="waited")["QueueUrl"]
    threading.Timer(0.3, lambda: boto3.client("sqs").send_message(QueueUrl=url, MessageBody="late")).start()
    started = time.monotonic()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=5)["Messages"]
    assert [m["Body"] for m in got] == ["late"] and time.monotonic() - started < 4


def test_fifo_queues_keep_groups_in_order_and_drop_duplicates(aws):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="ordered.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    for body in ["a1", "a2", "a1"]:
        sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="a")
    assert _counts(sqs, url) == (2, 0, 0)
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"]
    assert [m["Body"] for m in first] == ["a1"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # its group is in flight
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["a2"]


def test_eventbridge_still_delivers_the_default_envelope(aws):
    bus = aws["stack"].env["OMO_EVENT_BUS"]
    boto3.client("events").put_events(Entries=[{"EventBusName": bus, "Source": "omo2c.test", "DetailType": "x.y",
                                                "Detail": json.dumps({"n": 1, "name": "é"})}])
    message = aws["sqs"].receive_message(QueueUrl=aws["tap_url"])["Messages"][0]
    envelope = json.loads(message["Body"])
    assert envelope["source"] == "omo2c.test" and envelope["detail-type"] == "x.y"
    assert envelope["detail"] == {"n": 1, "name": "é"} and envelope["version"] == "0"
    assert set(envelope) == {"id", "time", "version", "detail-type", "source", "region", "resources", "detail"}
    assert envelope["region"] == "ap-northeast-1" and envelope["resources"] == []


def test_query_reads_only_the_partition_and_keeps_order_pages_and_filters(aws):
    ddb = boto3.client("dynamodb")
    table = TABLES["LedgerTable"]
    for pk in ("A", "B"):
        for n in range(7):
            ddb.put_item(TableName=table, Item={"pk": {"S": pk}, "sk": {"S": f"{n:02}"}, "n": {"N": str(n)}})
    found = ddb.query(TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={
        ":pk": {"S": "A"}}, ScanIndexForward=False, Limit=4)
    assert [i["sk"]["S"] for i in found["Items"]] == ["06", "05", "04", "03"]
    rest = ddb.query(TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={
        ":pk": {"S": "A"}}, ScanIndexForward=False, ExclusiveStartKey=found["LastEvaluatedKey"])
    assert [i["sk"]["S"] for i in rest["Items"]] == ["02", "01", "00"] and "LastEvaluatedKey" not in rest
    filtered = ddb.query(TableName=table, KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b",
                         FilterExpression="n <> :three", ExpressionAttributeValues={
                             ":pk": {"S": "B"}, ":a": {"S": "02"}, ":b": {"S": "05"}, ":three": {"N": "3"}})
    assert [i["sk"]["S"] for i in filtered["Items"]] == ["02", "04", "05"] and filtered["ScannedCount"] == 4
    assert ddb.query(TableName=table, KeyConditionExpression="pk = :pk",
                     ExpressionAttributeValues={":pk": {"S": "none"}})["Items"] == []


def test_an_index_query_sees_every_write_update_and_delete(aws):
    ddb = boto3.client("dynamodb")
    table = TABLES["LedgerTable"]

    def staff_month(value: str) -> list[str]:
        return [i["sk"]["S"] for i in ddb.query(TableName=table, IndexName="ByStaffMonth",
                                                KeyConditionExpression="staff_month = :m",
                                                ExpressionAttributeValues={":m": {"S": value}})["Items"]]

    for n in range(3):
        ddb.put_item(TableName=table, Item={"pk": {"S": f"E{n}"}, "sk": {"S": "x"}, "staff_month": {"S": "S1#2026-01"},
                                            "entry_key": {"S": f"{2 - n}"}})
    assert staff_month("S1#2026-01") == ["x", "x", "x"]
    assert [i["pk"]["S"] for i in ddb.query(TableName=table, IndexName="ByStaffMonth",
                                            KeyConditionExpression="staff_month = :m",
                                            ExpressionAttributeValues={":m": {"S": "S1#2026-01"}})["Items"]] \
        == ["E2", "E1", "E0"]  # by the index's range key
    ddb.update_item(TableName=table, Key={"pk": {"S": "E1"}, "sk": {"S": "x"}},
                    UpdateExpression="SET staff_month = :m", ExpressionAttributeValues={":m": {"S": "S2#2026-01"}})
    ddb.delete_item(TableName=table, Key={"pk": {"S": "E2"}, "sk": {"S": "x"}})
    ddb.transact_write_items(TransactItems=[{"Put": {"TableName": table, "Item": {
        "pk": {"S": "E9"}, "sk": {"S": "x"}, "staff_month": {"S": "S2#2026-01"}, "entry_key": {"S": "0"}}}}])
    with pytest.raises(ClientError):  # cancelled: the index must not keep what was rolled back
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": {"S": "E8"}, "sk": {"S": "x"},
                                                  "staff_month": {"S": "S2#2026-01"}, "entry_key": {"S": "9"}}}},
            {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "none"}, "sk": {"S": "x"}},
                                "ConditionExpression": "attribute_exists(pk)"}}])
    assert [i["pk"]["S"] for i in ddb.query(TableName=table, IndexName="ByStaffMonth",
                                            KeyConditionExpression="staff_month = :m",
                                            ExpressionAttributeValues={":m": {"S": "S2#2026-01"}})["Items"]] \
        == ["E9", "E1"]
    assert staff_month("S1#2026-01") == ["x"]
    with pytest.raises(ClientError) as error:
        ddb.query(TableName=table, IndexName="NoSuchIndex", KeyConditionExpression="staff_month = :m",
                  ExpressionAttributeValues={":m": {"S": "S1#2026-01"}})
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"  # moto's own answer


def test_items_keep_every_attribute_type_and_the_size_limit(aws):
    ddb = boto3.client("dynamodb")
    table = TABLES["LedgerTable"]
    item = {"pk": {"S": "T"}, "sk": {"S": "1"}, "s": {"S": "文字"}, "n": {"N": "1.50"}, "b": {"B": b"\x00\xff"},
            "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": [b"x"]}, "nul": {"NULL": True},
            "yes": {"BOOL": False}, "l": {"L": [{"S": "x"}, {"M": {"k": {"N": "2"}}}]},
            "m": {"M": {"inner": {"L": [{"B": b"y"}]}, "flag": {"BOOL": True}}}}
    ddb.put_item(TableName=table, Item=item)
    got = ddb.get_item(TableName=table, Key={"pk": {"S": "T"}, "sk": {"S": "1"}})["Item"]
    assert {k: v for k, v in got.items() if k not in ("ss", "ns")} == {
        k: v for k, v in item.items() if k not in ("ss", "ns")}
    assert sorted(got["ss"]["SS"]) == ["a", "b"] and sorted(got["ns"]["NS"]) == ["1", "2"]
    with pytest.raises(ClientError) as error:
        ddb.put_item(TableName=table, Item={"pk": {"S": "big"}, "sk": {"S": "1"},
                                            **{f"a{n}": {"S": "x" * 100_000} for n in range(5)}})
    assert "Item size has exceeded the maximum allowed size" in str(error.value)
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": {"S": "big"}, "sk": {"S": "1"}})


def test_update_expressions_still_validate_and_apply(aws):
    ddb = boto3.client("dynamodb")
    table = TABLES["LedgerTable"]
    key = {"pk": {"S": "U"}, "sk": {"S": "1"}}
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET n = if_not_exists(n, :zero) + :one, tags = :t",
                    ExpressionAttributeValues={":zero": {"N": "0"}, ":one": {"N": "1"}, ":t": {"SS": ["a"]}})
    ddb.update_item(TableName=table, Key=key, UpdateExpression="ADD n :one, tags :b REMOVE gone",
                    ExpressionAttributeValues={":one": {"N": "1"}, ":b": {"SS": ["b"]}})
    got = ddb.get_item(TableName=table, Key=key)["Item"]
    assert got["n"] == {"N": "2"} and sorted(got["tags"]["SS"]) == ["a", "b"]
    with pytest.raises(ClientError) as error:
        ddb.update_item(TableName=table, Key=key, UpdateExpression="SET pk = :x",
                        ExpressionAttributeValues={":x": {"S": "other"}})
    assert error.value.response["Error"]["Code"] == "ValidationException"
