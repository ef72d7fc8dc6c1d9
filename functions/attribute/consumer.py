"""Order events from the bus (through AttributeQueue): credit the order, append ledger entries."""

from __future__ import annotations

import json

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring as services
from omo2c.core.observability import logger, metrics
from omo2c.core.snapstart import prime

processor = BatchProcessor(event_type=EventType.SQS)
prime("omo2c.attribution.storage", "omo2c.staff.storage", "omo2c.members.storage")


def record_handler(record: SQSRecord) -> None:
    envelope = json.loads(record.body)
    if envelope.get("detail-type") != "order.recorded":
        return
    outcome = services.commission_service().record(envelope["detail"])
    metrics.add_metric(name="OrdersCredited" if outcome == "entry appended" else "OrdersUnchanged", unit="Count",
                       value=1)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
