"""Queue pollers honour partial batch failures and end poison messages in the DLQ."""

from __future__ import annotations

import json
import threading

import boto3

from infra.local import FunctionHost, Poller
from infra.template import Function, QueueSource, Template


def _template(tmp_path, code: str) -> Template:
    (tmp_path / "consumer.py").write_text(code)
    function = Function("Consumer", str(tmp_path), "consumer.handler", {},
                        queues=[QueueSource("Work", 10, True)])
    return Template({}, {"Consumer": function}, {}, {}, {}, {}, {}, None)


def test_partial_failure_keeps_only_the_failed_message_until_it_reaches_the_dlq(aws, tmp_path):
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName="work-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName="work", Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})})["QueueUrl"]
    for i in range(10):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": i, "poison": i == 4}))
    template = _template(tmp_path, (
        "import json\nseen = []\n"
        "def handler(event, context):\n"
        "    failures = []\n"
        "    for r in event['Records']:\n"
        "        if json.loads(r['body'])['poison']:\n"
        "            failures.append({'itemIdentifier': r['messageId']})\n"
        "        else:\n"
        "            seen.append(json.loads(r['body'])['n'])\n"
        "    return {'batchItemFailures': failures}\n"))
    host = FunctionHost(template)
    poller = Poller(host, template.functions["Consumer"], template.functions["Consumer"].queues[0], url, sqs,
                    threading.Event(), retry_backoff=0)
    for _ in range(12):
        poller.poll_once()
    assert sorted(host.module("Consumer").seen) == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["n"] for m in dead] == [4]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
