"""Send queue consumer: one job (a multicast group or one member) under every sending rule."""

from __future__ import annotations

from functools import partial

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.campaigns.model import QueuedSendJob
from omo2c.core.batch import queue_processor
from omo2c.core.observability import logger, metrics
from omo2c.core.snapstart import prime
from omo2c.core.tracing import tracer

processor = queue_processor(QueuedSendJob)
prime("linebot.v3.messaging", "omo2c.campaigns.service", "omo2c.campaigns.storage", "omo2c.members.storage",
      composition=wiring.production, services=("campaign_service", "publisher"), clients=("sqs", "sns"))


def record_handler(record: QueuedSendJob, services: wiring.Services) -> None:
    outcome = services.campaign_service.send(record.body)
    for name, count in outcome.items():
        metrics.add_metric(name=f"Send_{name}", unit="Count", value=count)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    return process_partial_response(event=event, processor=processor, context=context,
                                    record_handler=partial(record_handler, services=services or wiring.production()))
