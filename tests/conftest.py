from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.aws import FakeContext

TABLES = {"MembersTable": "t-members", "LedgerTable": "t-ledger", "CampaignsTable": "t-campaigns",
          "IdempotencyTable": "t-idempotency"}

LOCAL_SECRETS = {
    "OMO_SOURCE_SECRET_POS": "test-pos-secret",
    "OMO_SOURCE_SECRET_EC": "test-ec-secret",
    "OMO_SOURCE_SECRET_SHOPIFY": "test-shopify-secret",
    "LINE_CHANNEL_SECRET": "test-line-secret",
    "LINE_CHANNEL_ACCESS_TOKEN": "test-line-token",
    "OMO_ADMIN_TOKEN": "test-admin-token",
}


@pytest.fixture
def lambda_context() -> FakeContext:
    return FakeContext()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto with the template's tables, the queues and the bus; settings pointing at them."""
    from moto import mock_aws

    from infra.moto_speedups import install

    install()

    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(key)
    env = {"AWS_DEFAULT_REGION": "ap-northeast-1", "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "POWERTOOLS_TRACE_DISABLED": "1",
           "POWERTOOLS_METRICS_NAMESPACE": "OMO2C", "POWERTOOLS_SERVICE_NAME": "omo2c",
           "OMO_MEMBERS_TABLE": TABLES["MembersTable"], "OMO_LEDGER_TABLE": TABLES["LedgerTable"],
           "OMO_CAMPAIGNS_TABLE": TABLES["CampaignsTable"], "OMO_IDEMPOTENCY_TABLE": TABLES["IdempotencyTable"],
           "OMO_EVENT_BUS": "t-bus", **LOCAL_SECRETS}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        import boto3

        from omo2c import wiring as services
        from tests.support.aws import create_tables

        create_tables(boto3.client("dynamodb"), TABLES)
        sqs = boto3.client("sqs")
        ingest_url = sqs.create_queue(QueueName="t-ingest")["QueueUrl"]
        send_url = sqs.create_queue(QueueName="t-send")["QueueUrl"]
        monkeypatch.setenv("OMO_INGEST_QUEUE_URL", ingest_url)
        monkeypatch.setenv("OMO_SEND_QUEUE_URL", send_url)
        events = boto3.client("events")
        events.create_event_bus(Name="t-bus")
        tap_url = sqs.create_queue(QueueName="t-bus-tap")["QueueUrl"]
        tap_arn = sqs.get_queue_attributes(QueueUrl=tap_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="tap", EventBusName="t-bus", EventPattern='{"source": [{"prefix": "omo2c"}]}')
        events.put_targets(Rule="tap", EventBusName="t-bus", Targets=[{"Id": "tap", "Arn": tap_arn}])
        boto3.client("scheduler").create_schedule_group(Name="t-campaigns")
        for key, value in {"OMO_SCHEDULE_GROUP": "t-campaigns",
                           "OMO_PLANNER_ARN": "arn:aws:lambda:ap-northeast-1:123456789012:function:planner",
                           "OMO_SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/scheduler",
                           "OMO_SCHEDULE_DLQ_ARN": "arn:aws:sqs:ap-northeast-1:123456789012:t-send-dlq"}.items():
            monkeypatch.setenv(key, value)
        services.reset()
        yield {"sqs": sqs, "ingest_url": ingest_url, "send_url": send_url, "tap_url": tap_url,
               "dynamodb": boto3.client("dynamodb")}
        services.reset()


def published(aws: dict[str, Any]) -> list[dict[str, Any]]:
    """Drain what reached the bus (through a tap rule) as EventBridge envelopes."""
    import json

    out = []
    while True:
        got = aws["sqs"].receive_message(QueueUrl=aws["tap_url"], MaxNumberOfMessages=10)
        messages = got.get("Messages", [])
        if not messages:
            return out
        for message in messages:
            out.append(json.loads(message["Body"]))
            aws["sqs"].delete_message(QueueUrl=aws["tap_url"], ReceiptHandle=message["ReceiptHandle"])


_SCANNERS: list = []


def pytest_configure(config: pytest.Config) -> None:
    """Watch every log line the run emits through the service logger and the root logger."""
    import logging

    from omo2c.core.observability import logger as service_logger
    from tests.support.log_scan import LeakScanner

    scanner = LeakScanner()
    scanner.setFormatter(service_logger.registered_formatter)
    service_logger.addHandler(scanner)
    root_scanner = LeakScanner()
    root_scanner.setFormatter(logging.Formatter("%(name)s %(message)s"))
    logging.getLogger().addHandler(root_scanner)
    _SCANNERS.extend([scanner, root_scanner])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaked = [line for scanner in _SCANNERS for line in scanner.found]
    if leaked:
        print("\nRAW PHONE NUMBERS OR EMAILS IN LOGS:\n" + "\n".join(leaked[:20]))
        session.exitstatus = 1
