"""One SQS batch sender for every queue we write to: it retries what SQS refused and raises when
entries still could not be queued, so no caller reports as queued what was lost."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from omo2c.core.aws import client
from omo2c.core.errors import Unavailable

SQS_BATCH = 10
ATTEMPTS = 3


class QueueRefused(Unavailable):
    """SQS did not take every entry; the caller fails, and its own caller retries."""


class BatchSender:
    def __init__(self, queue_url: str, sqs: Any | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.queue_url = queue_url
        self._sqs = sqs
        self.sleep = sleep

    @property
    def sqs(self) -> Any:
        return self._sqs or client("sqs")

    def send(self, entries: list[dict[str, Any]]) -> None:
        """Each entry is an SQS batch entry without its ``Id`` (``MessageBody``, attributes, delay)."""
        for start in range(0, len(entries), SQS_BATCH):
            pending = {str(i): entry for i, entry in enumerate(entries[start:start + SQS_BATCH])}
            for attempt in range(ATTEMPTS):
                response = self.sqs.send_message_batch(
                    QueueUrl=self.queue_url, Entries=[{"Id": key, **entry} for key, entry in pending.items()])
                failed = response.get("Failed") or []
                if any(f.get("SenderFault") for f in failed):
                    codes = sorted({str(f.get("Code")) for f in failed if f.get("SenderFault")})
                    raise QueueRefused(f"the queue refused {len(failed)} entries: {', '.join(codes)}")
                pending = {str(f["Id"]): pending[str(f["Id"])] for f in failed}
                if not pending:
                    break
                self.sleep(0.05 * 2 ** attempt)
            if pending:
                raise QueueRefused(f"{len(pending)} entries could not be queued; try again")
