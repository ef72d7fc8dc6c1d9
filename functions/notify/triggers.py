"""Bus events (through NotifyEventsQueue): welcomes, journeys, conversions, and blocks after a LINE message."""

from __future__ import annotations

from functools import partial

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.core.batch import queue_processor
from omo2c.core.observability import logger, metrics
from omo2c.events import MemberBound, MemberCreated, MemberLineUnfollowed, MemberTierChanged, OrderRecorded, queued

NotifyEvents = queued(MemberCreated, MemberBound, OrderRecorded, MemberTierChanged, MemberLineUnfollowed)
processor = queue_processor(NotifyEvents)


def record_handler(record: NotifyEvents, services: wiring.Services) -> None:  # type: ignore[valid-type]
    services.campaign_service.on_event(record.body.detail)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    return process_partial_response(event=event, processor=processor, context=context,
                                    record_handler=partial(record_handler, services=services or wiring.production()))
