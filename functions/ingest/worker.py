"""Ingest worker: each queued canonical event is resolved to one member and recorded."""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring as services
from omo2c.core.bus import publisher
from omo2c.core.observability import logger, metrics
from omo2c.core.settings import get_settings
from omo2c.core.snapstart import prime
from omo2c.sources.canonical import CanonicalEvent

processor = BatchProcessor(event_type=EventType.SQS)
prime("omo2c.members.storage", "omo2c.staff.storage", "omo2c.members.resolution")


def record_handler(record: SQSRecord) -> None:
    event = CanonicalEvent.model_validate_json(record.body)
    outcome = services.resolver().record(event)
    publisher(get_settings(), "omo2c.ingest").publish(outcome.events)
    metrics.add_metric(name="DuplicateEvents" if outcome.duplicate else "EventsRecorded", unit="Count", value=1)
    if outcome.merged:
        metrics.add_metric(name="MembersMerged", unit="Count", value=len(outcome.merged))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
