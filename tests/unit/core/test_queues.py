"""The one SQS batch sender: retries what SQS refused for now, raises for what it could not queue."""

from __future__ import annotations

import pytest

from omo2c.core.queues import BatchSender, QueueRefused


class FlakySqs:
    """Fails the given entry ids on the first calls, like SendMessageBatch's partial failures."""

    def __init__(self, failures: list[list[dict]]) -> None:
        self.failures, self.sent, self.calls = failures, [], 0

    def send_message_batch(self, QueueUrl, Entries):
        self.calls += 1
        failed = self.failures.pop(0) if self.failures else []
        refused = {f["Id"] for f in failed}
        self.sent += [e["MessageBody"] for e in Entries if e["Id"] not in refused]
        return {"Successful": [], "Failed": failed}


def entries(n: int) -> list[dict]:
    return [{"MessageBody": f"m{i}"} for i in range(n)]


def test_batches_of_ten_and_a_retry_of_only_the_refused_entries():
    sqs = FlakySqs([[], [{"Id": "3", "SenderFault": False, "Code": "InternalError"}]])
    BatchSender("q", sqs, sleep=lambda _: None).send(entries(15))
    assert sorted(sqs.sent) == sorted(f"m{i}" for i in range(15)) and sqs.calls == 3


def test_entries_still_refused_after_the_retries_raise_instead_of_vanishing():
    busy = [{"Id": "0", "SenderFault": False, "Code": "ServiceUnavailable"}]
    with pytest.raises(QueueRefused) as refused:
        BatchSender("q", FlakySqs([busy, busy, busy]), sleep=lambda _: None).send(entries(2))
    assert refused.value.status == 503


def test_a_sender_fault_is_not_retried():
    sqs = FlakySqs([[{"Id": "1", "SenderFault": True, "Code": "InvalidMessageContents"}]])
    with pytest.raises(QueueRefused, match="InvalidMessageContents"):
        BatchSender("q", sqs, sleep=lambda _: None).send(entries(2))
    assert sqs.calls == 1
