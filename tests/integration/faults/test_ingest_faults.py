"""Faults injected under the ingest worker: throttling, transaction conflicts, poison messages.

Whatever fails is reported as a batch item failure, redelivered, and recorded exactly once.
"""

from __future__ import annotations

import json
import random
from decimal import Decimal
from unittest import mock

import botocore.client
from botocore.exceptions import ClientError

from omo2c import wiring
from omo2c.identity.identifiers import Identifier, IdentifierKind
from tests.support.aws import load_handler, sqs_event
from tests.support.events import pos_order

REAL_CALL = botocore.client.BaseClient._make_api_call


def flaky(operations: dict[str, list[str]]):
    """Fail the next calls of each operation with the given error codes, in order."""

    def call(client, operation, params):
        pending = operations.get(operation)
        if pending:
            code = pending.pop(0)
            error = {"Error": {"Code": code, "Message": f"injected {code}"}}
            if code == "TransactionCanceledException":
                error["CancellationReasons"] = [{"Code": "TransactionConflict"}]
            raise ClientError(error, operation)
        return REAL_CALL(client, operation, params)

    return mock.patch.object(botocore.client.BaseClient, "_make_api_call", call)


def deliver_until_done(worker, ctx, bodies: list[str], rounds: int = 10) -> int:
    """Redeliver failed items like SQS does; return how many deliveries it took."""
    pending = list(bodies)
    for attempt in range(1, rounds + 1):
        event = sqs_event(pending)
        failures = {f["itemIdentifier"] for f in worker.lambda_handler(event, ctx)["batchItemFailures"]}
        pending = [r["body"] for r in event["Records"] if r["messageId"] in failures]
        if not pending:
            return attempt
    raise AssertionError(f"{len(pending)} messages never succeeded")


def member(phone: str):
    return wiring.production().members.find_by_identifier(Identifier(IdentifierKind.PHONE, phone))


def test_throttling_and_conflicts_are_retried_and_nothing_is_doubled(aws, lambda_context):
    worker = load_handler("IngestWorkerFunction")
    bodies = [json.dumps({**pos_order(f"t-{i}", phone="0955-777-888", order_id=f"T{i}", total=100),
                          "source": "pos"}) for i in range(10)]
    faults = {"TransactWriteItems": ["ProvisionedThroughputExceededException", "TransactionCanceledException",
                                     "ThrottlingException"] * 3,
              "BatchGetItem": ["ProvisionedThroughputExceededException"] * 4,
              "PutEvents": ["InternalException"] * 2}
    with flaky(faults):
        deliver_until_done(worker, lambda_context, bodies + bodies[:3])
    found = member("+886955777888")
    assert found.rfm.order_count == 10 and found.rfm.net_spent == Decimal(1000)


def test_poison_message_fails_alone_and_the_other_nine_are_recorded(aws, lambda_context):
    worker = load_handler("IngestWorkerFunction")
    bodies = [json.dumps({**pos_order(f"p-{i}", phone="0955-666-111", order_id=f"P{i}", total=10), "source": "pos"})
              for i in range(9)]
    bodies.insert(random.Random(3).randrange(10), '{"event_id": "broken", "type": "order.created"')
    event = sqs_event(bodies)
    result = worker.lambda_handler(event, lambda_context)
    failed = [r["body"] for r in event["Records"] if r["messageId"] in
              {f["itemIdentifier"] for f in result["batchItemFailures"]}]
    assert failed == ['{"event_id": "broken", "type": "order.created"']
    assert member("+886955666111").rfm.order_count == 9
