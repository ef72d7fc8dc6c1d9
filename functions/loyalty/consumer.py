"""Orders and merges from the bus (through LoyaltyQueue): points, tiers and coupons redeemed; loyalty brought
together when members merge."""

from __future__ import annotations

from functools import partial

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.core.batch import queue_processor
from omo2c.core.observability import logger, metrics
from omo2c.core.snapstart import prime
from omo2c.events import MemberMerged, OrderRecorded, queued

LoyaltyEvents = queued(OrderRecorded, MemberMerged)
processor = queue_processor(LoyaltyEvents)
prime("omo2c.loyalty.storage", "omo2c.loyalty.service", "omo2c.members.storage")


def record_handler(record: LoyaltyEvents, services: wiring.Services) -> None:  # type: ignore[valid-type]
    event = record.body.detail
    if isinstance(event, MemberMerged):
        outcome = services.loyalty.merge(event)
    else:
        outcome = services.loyalty.record(event)
        services.coupons.record_order(event)
    metrics.add_metric(name="TierChanges" if outcome == "tier changed" else "LoyaltyEvents", unit="Count", value=1)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    return process_partial_response(event=event, processor=processor, context=context,
                                    record_handler=partial(record_handler, services=services or wiring.production()))
