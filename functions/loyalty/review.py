"""The monthly tier review (an EventBridge Scheduler schedule): members whose spend fell below their tier
move down, each with a ``member.tier_changed`` naming the reason. The schedule's body says nothing we need."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.core.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    services = services or wiring.production()
    result = services.loyalty.review(services.clock())
    metrics.add_metric(name="TierDowngrades", unit="Count", value=result["downgraded"])
    logger.info("tier review done", extra={"checked": result["checked"], "moves": result["moves"]})
    return result
