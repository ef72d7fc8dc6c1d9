"""EventBridge Scheduler target: plan one run of the campaign named in the schedule's input."""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.core.errors import Conflict, NotFound
from omo2c.core.observability import logger, metrics


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    campaign_id = str(event.get("campaign_id", ""))
    try:
        result = (services or wiring.production()).campaign_service.run(campaign_id, trigger="schedule")
    except NotFound:
        logger.warning("schedule names no campaign", extra={"campaign_id": campaign_id[:64]})
        return {"campaign_id": campaign_id[:64], "skipped": "no such campaign"}
    except Conflict as held:  # paused or archived since the schedule fired
        logger.info("campaign not run", extra={"campaign_id": campaign_id, "reason": held.message})
        return {"campaign_id": campaign_id, "skipped": held.message}
    metrics.add_metric(name="CampaignMembersSelected", unit="Count", value=result["selected"])
    logger.info("campaign planned", extra={"campaign_id": campaign_id, "jobs": result.get("jobs")})
    return result
