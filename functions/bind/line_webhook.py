"""POST /line/webhook: verify LINE's signature first, then handle each event exactly once.

No X-Ray SDK here (the template's active tracing still records each invocation): its import and the
sampling clients it builds would more than double a cold start that LINE is waiting on."""

from __future__ import annotations

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.channels.line import signature_valid
from omo2c.core.aws import client
from omo2c.core.errors import PayloadTooLarge, Unauthenticated
from omo2c.core.http import create_app, json_response, public_base
from omo2c.core.observability import logger, metrics
from omo2c.core.snapstart import prime
from omo2c.line.webhook import parse_delivery

app = create_app()
prime("linebot.v3.messaging", "omo2c.line.conversation", "omo2c.line.storage",
      "omo2c.conversations.storage", "omo2c.identity.storage", "omo2c.identity.verification",
      composition=wiring.production, services=("resolver", "sms", "conversations", "member_cards", "binding_policy",
      "publisher"), clients=("events", "sns"), secrets=("line-channel-secret",
      "line-channel-access-token", "otp-key"), then=(lambda services: idempotent_handler(services),))
IDEMPOTENCY = IdempotencyConfig(event_key_jmespath="webhookEventId", expires_after_seconds=7 * 86400)
_handlers: dict[tuple[str, int], object] = {}


def idempotent_handler(services: wiring.Services):
    """Redeliveries (same webhookEventId) return the first outcome without acting again. The store uses the
    process's DynamoDB client: one of its own would start another boto3 session, reloading botocore's data."""
    table, dynamodb = services.settings.idempotency_table, client("dynamodb")
    key = (table, id(dynamodb))
    if key not in _handlers:
        store = DynamoDBPersistenceLayer(table_name=table, boto3_client=dynamodb)

        @idempotent_function(data_keyword_argument="event", persistence_store=store, config=IDEMPOTENCY)
        def handle(event: dict, conversation, base: str) -> str:
            return conversation.handle(event, base)

        _handlers[key] = handle
    return _handlers[key]


def handle_once(services: wiring.Services):
    handle = idempotent_handler(services)
    base = public_base(app.current_event.raw_event, services.settings.public_base_url)
    return lambda event: handle(event=event, conversation=services.line_conversation, base=base)


@app.post("/line/webhook")
def line_webhook():
    services: wiring.Services = app.context["services"]
    body = app.current_event.decoded_body or ""
    if len(body.encode()) > services.settings.max_body_bytes:
        raise PayloadTooLarge("body is too large")
    secret = services.secrets.get("line-channel-secret")
    if not signature_valid(body, app.current_event.headers.get("x-line-signature"), secret):
        raise Unauthenticated("missing or invalid X-Line-Signature")
    handle = handle_once(services)
    outcomes = [handle(e) if isinstance(e, dict) else e for e in parse_delivery(body)]
    metrics.add_metric(name="LineEvents", unit="Count", value=len(outcomes))
    return json_response(200, {"handled": outcomes})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    IDEMPOTENCY.register_lambda_context(context)
    app.append_context(services=services or wiring.production())
    return app.resolve(event, context)
