"""Logger and metrics, created once and shared by every handler.

The X-Ray SDK costs ~0.2 s of import, so the tracer lives in :mod:`omo2c.core.tracing` and only
the campaign sender, whose time goes to outside APIs (LINE, SMS), imports it; the rest rely on the
template's active tracing at the Lambda level.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from omo2c.core.privacy import RedactingFilter, redact


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Exception texts often quote the input; mask it like every message."""

    def formatException(self, ei) -> str:
        return redact(super().formatException(ei))


logger = Logger(service=os.getenv("POWERTOOLS_SERVICE_NAME", "omo2c"), utc=True,
                logger_formatter=RedactingFormatter(serialize_stacktrace=False))
logger.addFilter(RedactingFilter())
for _handler in logger.handlers:
    _handler.addFilter(RedactingFilter())
metrics = Metrics(namespace=os.getenv("POWERTOOLS_METRICS_NAMESPACE", "OMO2C"))
