"""The local run's moto server: keep-alive connections for HTTP clients, the same answers in-process."""

from __future__ import annotations

import json
import socket

import boto3
import pytest
import requests
from botocore.httpsession import URLLib3Session

from infra import moto_speedups
from infra.local import MotoServer, free_port


@pytest.fixture
def server(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                       "AWS_DEFAULT_REGION": "ap-northeast-1"}.items():
        monkeypatch.setenv(key, value)
    moto_speedups.install()
    running = MotoServer("127.0.0.1", free_port())
    running.start()
    yield running
    running.stop()


def _sqs_call(target: str, body: dict) -> dict:
    return {"X-Amz-Target": f"AmazonSQS.{target}", "Content-Type": "application/x-amz-json-1.0",
            "Authorization": "AWS4-HMAC-SHA256 Credential=local/20260101/ap-northeast-1/sqs/aws4_request, "
                             "SignedHeaders=host, Signature=0"}, json.dumps(body)


def test_one_connection_carries_many_requests(server):
    created = []
    with requests.Session() as session:
        for n in range(3):
            headers, body = _sqs_call("CreateQueue", {"QueueName": f"kept-{n}"})
            response = session.post(server.endpoint + "/", data=body, headers=headers, timeout=10)
            assert response.status_code == 200 and response.headers.get("Connection") != "close"
            created.append(response.json()["QueueUrl"])
        headers, body = _sqs_call("ListQueues", {"QueueNamePrefix": "kept-"})
        listed = session.post(server.endpoint + "/", data=body, headers=headers, timeout=10).json()["QueueUrls"]
    assert sorted(listed) == sorted(created)


def test_a_request_without_a_length_is_answered_and_closed(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 ") and b"Connection: close" in reply


def test_the_runs_own_clients_get_the_answers_http_clients_get(server):
    sqs = boto3.client("sqs", endpoint_url=server.endpoint)
    url = sqs.create_queue(QueueName="both")["QueueUrl"]
    assert url == f"{server.endpoint}/123456789012/both"  # the host the request named, as over HTTP
    sqs.send_message(QueueUrl=url, MessageBody="héllo", MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "greeting"}})
    headers, body = _sqs_call("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["All"]})
    over_http = requests.post(server.endpoint + "/", data=body, headers=headers, timeout=10).json()["Attributes"]
    in_process = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert over_http == in_process and in_process["ApproximateNumberOfMessages"] == "1"
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"][0]
    assert got["Body"] == "héllo" and got["MessageAttributes"]["kind"]["StringValue"] == "greeting"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="missing")
    ddb = boto3.client("dynamodb", endpoint_url=server.endpoint)
    ddb.create_table(TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    ddb.put_item(TableName="t", Item={"pk": {"S": "a"}, "b": {"B": b"\x00\x01"}})
    assert ddb.get_item(TableName="t", Key={"pk": {"S": "a"}})["Item"]["b"] == {"B": b"\x00\x01"}


def test_stopping_gives_botocore_its_own_sending_back(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
                       "AWS_DEFAULT_REGION": "ap-northeast-1"}.items():
        monkeypatch.setenv(key, value)
    before = URLLib3Session.send
    running = MotoServer("127.0.0.1", free_port())
    running.start()
    assert URLLib3Session.send is not before
    running.stop()
    assert URLLib3Session.send is before
