"""SES bounces and complaints (the default bus → EmailFeedbackRule → EmailFeedbackQueue): a permanent bounce
or a complaint switches e-mail off for that address and is counted for the campaign run that sent it."""

from __future__ import annotations

from functools import partial

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.core.batch import queue_processor
from omo2c.core.observability import logger, metrics
from omo2c.core.snapstart import prime
from omo2c.mailing.feedback import QueuedSesEvent

processor = queue_processor(QueuedSesEvent)
prime("omo2c.mailing.service", "omo2c.members.storage", "omo2c.campaigns.storage")


def record_handler(record: QueuedSesEvent, services: wiring.Services) -> None:
    outcome = services.email_preferences.feedback(record.body.detail)
    metrics.add_metric(name="EmailFeedback_" + outcome.replace(" ", "_"), unit="Count", value=1)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    return process_partial_response(event=event, processor=processor, context=context,
                                    record_handler=partial(record_handler, services=services or wiring.production()))
