"""How every queue consumer reads its batch: typed records, partial failures, nothing raw in logs.

A batch whose every record failed is reported record by record like any other (SQS retries each,
then its dead-letter queue keeps it) rather than raised: a raised batch error carries each
record's exception text to the Lambda runtime's log, where our redaction cannot reach it. Each
failure is logged once, as a warning through the service logger, which masks phones and emails.
"""

from __future__ import annotations

import logging

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from omo2c.core.observability import logger
from omo2c.core.privacy import RedactingFilter

logging.getLogger("aws_lambda_powertools.utilities.batch.base").addFilter(RedactingFilter())


def queue_processor(model: type | None = None) -> BatchProcessor:
    return BatchProcessor(event_type=EventType.SQS, model=model, raise_on_entire_batch_failure=False,
                          logger=logger)  # type: ignore[arg-type]
