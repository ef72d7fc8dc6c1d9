"""Logger, tracer and metrics, created once and shared by every handler."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

from omo2c.privacy import RedactingFilter

logger = Logger(utc=True)
logger.addFilter(RedactingFilter())
for _handler in logger.handlers:
    _handler.addFilter(RedactingFilter())
tracer = Tracer()
metrics = Metrics()
