"""Ingest worker: each queued canonical event is resolved to one member and recorded.

An event with a member card's code first trades it for an identifier of the card's member."""

from __future__ import annotations

from functools import partial

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.core.batch import queue_processor
from omo2c.core.observability import logger, metrics
from omo2c.core.snapstart import prime
from omo2c.sources.canonical import QueuedCanonicalEvent

processor = queue_processor(QueuedCanonicalEvent)
prime("omo2c.members.storage", "omo2c.staff.storage", "omo2c.members.resolution", "omo2c.cards.service",
      "omo2c.cards.storage", composition=wiring.production, services=("resolver", "member_cards", "publisher"),
      clients=("events",), secrets=("member-code-key",))


def record_handler(record: QueuedCanonicalEvent, services: wiring.Services) -> None:
    event = record.body
    if event.customer.member_code:
        event = services.member_cards.resolve(event)
    outcome = services.resolver.record(event)
    services.publish(outcome.events)
    metrics.add_metric(name="DuplicateEvents" if outcome.duplicate else "EventsRecorded", unit="Count", value=1)
    if outcome.merged:
        metrics.add_metric(name="MembersMerged", unit="Count", value=len(outcome.merged))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    return process_partial_response(event=event, processor=processor, context=context,
                                    record_handler=partial(record_handler, services=services or wiring.production()))
