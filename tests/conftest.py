from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infra.template import Names, load
from tests.support.aws import FakeContext

TABLES = Names(load()).table_names()

LOCAL_SECRETS = {
    "OMO_SOURCE_SECRET_POS": "test-pos-secret",
    "OMO_SOURCE_SECRET_EC": "test-ec-secret",
    "OMO_SOURCE_SECRET_SHOPIFY": "test-shopify-secret",
    "LINE_CHANNEL_SECRET": "test-line-secret",
    "LINE_CHANNEL_ACCESS_TOKEN": "test-line-token",
    "OMO_ADMIN_TOKEN": "test-admin-token",
    "OMO_OTP_KEY": "test-otp-key",
    "OMO_MEMBER_CODE_KEY": "test-member-code-key",
}


@pytest.fixture
def lambda_context() -> FakeContext:
    return FakeContext()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto with every resource the template declares and the environment pointing at them, as the
    local run has it; a tap queue on the bus receives every event (see `published`)."""
    from infra.moto_stack import in_process

    with in_process(secrets=LOCAL_SECRETS) as stack:
        import boto3

        from omo2c import wiring

        sqs = boto3.client("sqs")
        events = boto3.client("events")
        bus = stack.env["OMO_EVENT_BUS"]
        tap_url = sqs.create_queue(QueueName="t-bus-tap")["QueueUrl"]
        tap_arn = sqs.get_queue_attributes(QueueUrl=tap_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="tap", EventBusName=bus, EventPattern='{"source": [{"prefix": "omo2c"}]}')
        events.put_targets(Rule="tap", EventBusName=bus, Targets=[{"Id": "tap", "Arn": tap_arn}])
        wiring.reset()
        yield {"sqs": sqs, "ingest_url": stack.queue_url("IngestQueue"), "send_url": stack.queue_url("SendQueue"),
               "tap_url": tap_url, "dynamodb": boto3.client("dynamodb"), "stack": stack}
        monkeypatch.undo()  # the test's own setenv before the stack gives the environment back
        wiring.reset()


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
