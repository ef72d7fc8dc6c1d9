"""Order events from the bus (through AttributeQueue): credit the order, append ledger entries."""

from __future__ import annotations

from functools import partial

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.core.batch import queue_processor
from omo2c.core.observability import logger, metrics
from omo2c.core.snapstart import prime
from omo2c.events import OrderRecorded, queued

OrderEvents = queued(OrderRecorded)
processor = queue_processor(OrderEvents)
prime("omo2c.attribution.storage", "omo2c.staff.storage", "omo2c.members.storage", composition=wiring.production,
      services=("commission_service", "publisher"), clients=("events",))


def record_handler(record: OrderEvents, services: wiring.Services) -> None:  # type: ignore[valid-type]
    outcome = services.commission_service.record(record.body.detail)
    metrics.add_metric(name="OrdersCredited" if outcome == "entry appended" else "OrdersUnchanged", unit="Count",
                       value=1)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    return process_partial_response(event=event, processor=processor, context=context,
                                    record_handler=partial(record_handler, services=services or wiring.production()))
