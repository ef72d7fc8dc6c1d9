"""Every quarter hour (EventBridge Scheduler): journey sends that are due, and the day's birthdays."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.core.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    result = (services or wiring.production()).campaign_service.journeys.run()
    metrics.add_metric(name="JourneySendsDue", unit="Count", value=result["due"])
    metrics.add_metric(name="BirthdaySendsQueued", unit="Count", value=result["birthdays"])
    logger.info("journeys run", extra=result)
    return result
