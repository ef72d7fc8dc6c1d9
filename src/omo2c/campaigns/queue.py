"""The send queue: campaign and trigger jobs for the sender, through the one SQS batch sender."""

from __future__ import annotations

from omo2c.campaigns.model import SendJob
from omo2c.core.queues import BatchSender


class SendQueue:
    def __init__(self, sender: BatchSender) -> None:
        self.sender = sender

    def enqueue(self, jobs: list[SendJob], delay_seconds: int = 0) -> None:
        self.sender.send([{"MessageBody": job.model_dump_json(), "DelaySeconds": delay_seconds} for job in jobs])
