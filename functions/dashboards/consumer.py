"""Members, bindings, orders, commissions and conversions from the bus (through DashboardsQueue), folded into the
store and staff dashboard rollups a whole batch at a time: one read and one transaction per batch."""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.core.batch import queue_processor
from omo2c.core.observability import logger, metrics
from omo2c.core.snapstart import prime
from omo2c.events import (
    CampaignConverted,
    CommissionRecorded,
    MemberBound,
    MemberCreated,
    MemberMerged,
    MemberUnbound,
    OrderRecorded,
    queued,
)

DashboardEvents = queued(MemberCreated, MemberMerged, MemberBound, MemberUnbound, OrderRecorded, CommissionRecorded,
                         CampaignConverted)
processor = queue_processor(DashboardEvents)
prime("omo2c.dashboards.storage", "omo2c.dashboards.service")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    """Records that do not parse fail alone (the processor); the rest are applied together."""
    parsed: list = []

    def collect(record: DashboardEvents) -> None:  # type: ignore[valid-type]
        parsed.append((record.messageId, record.body.detail))

    response = process_partial_response(event=event, processor=processor, context=context, record_handler=collect)
    failed = (services or wiring.production()).dashboards.record(parsed)
    metrics.add_metric(name="DashboardEvents", unit="Count", value=len(parsed) - len(failed))
    response["batchItemFailures"] += [{"itemIdentifier": message_id} for message_id in failed]
    return response
