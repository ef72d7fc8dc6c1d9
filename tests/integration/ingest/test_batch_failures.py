"""A batch whose records all fail is reported record by record, and nothing raw reaches a log."""

from __future__ import annotations

import json
import logging

from omo2c.core.observability import logger as service_logger
from tests.support.aws import load_handler, sqs_event
from tests.support.events import pos_order
from tests.support.log_scan import LeakScanner


def test_every_record_failing_is_partial_failures_with_masked_logs(aws, lambda_context):
    scanner = LeakScanner()
    scanner.setFormatter(service_logger.registered_formatter)
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(service_logger.registered_formatter.format(record))

    keep = Keep()
    for target in (service_logger, logging.getLogger()):
        target.addHandler(scanner)
        target.addHandler(keep)
    try:
        bad = pos_order("leaky", phone=None)
        bad["customer"]["email"] = ["mei.lin@example.com"]
        bad["customer"]["phone"] = ["0933-128-765"]
        result = load_handler("IngestWorkerFunction").lambda_handler(
            sqs_event([json.dumps(bad), json.dumps(bad)]), lambda_context)
    finally:
        for target in (service_logger, logging.getLogger()):
            target.removeHandler(scanner)
            target.removeHandler(keep)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-0"}, {"itemIdentifier": "m-1"}]}
    assert any("Record processing exception" in line for line in seen), "each failure is logged"
    assert scanner.found == []
