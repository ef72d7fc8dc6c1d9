"""The send queue: campaign and trigger jobs for the sender, through the one SQS batch sender."""

from __future__ import annotations

import json
from typing import Any

from omo2c.core.queues import BatchSender


class SendQueue:
    def __init__(self, sender: BatchSender) -> None:
        self.sender = sender

    def enqueue(self, jobs: list[dict[str, Any]], delay_seconds: int = 0) -> None:
        self.sender.send([{"MessageBody": json.dumps(job, ensure_ascii=False), "DelaySeconds": delay_seconds}
                          for job in jobs])
