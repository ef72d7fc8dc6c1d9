"""Ingest worker: each queued canonical event is resolved to one member and recorded."""

from __future__ import annotations

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import services
from omo2c.canonical import CanonicalEvent
from omo2c.messaging import publisher
from omo2c.observability import logger, metrics
from omo2c.settings import get_settings
from omo2c.snapstart import prime

processor = BatchProcessor(event_type=EventType.SQS)
prime("omo2c.storage.members", "omo2c.storage.staff", "omo2c.resolution")


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
