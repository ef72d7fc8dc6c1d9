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


def test_the_wiring_reports_what_each_polled_queue_holds_as_sqs_counts_it(aws):
    from types import SimpleNamespace

    from infra.local import LocalRun

    sqs, url = aws["sqs"], aws["send_url"]
    for n in range(3):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{n}")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=60)
    poller = SimpleNamespace(queue_url=url, source=SimpleNamespace(queue="SendQueue"), delivered=7, failed=1)
    stats = LocalRun.queue_stats(SimpleNamespace(pollers=[poller]))  # type: ignore[arg-type]
    counted = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert stats == {"SendQueue": {"delivered": 7, "failed": 1, "visible": 2, "in_flight": 1, "delayed": 1}}
    assert (counted["ApproximateNumberOfMessages"], counted["ApproximateNumberOfMessagesNotVisible"],
            counted["ApproximateNumberOfMessagesDelayed"]) == ("2", "1", "1")
