"""POST /webhooks/{source}: verify, validate, enqueue — the intake stays this small so it starts fast.

A member code is checked by its signature and expiry alone (no table read), with the key read once per process.
"""

from __future__ import annotations

import time
from functools import lru_cache

from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.cards.service import MemberCodeCheck
from omo2c.core.http import create_app, json_response, raw_body
from omo2c.core.observability import logger, metrics
from omo2c.core.snapstart import prime
from omo2c.sources.intake import accept_delivery

app = create_app()
prime(composition=wiring.production, services=("ingest_queue",), clients=("sqs",),
      secrets=lambda services: ("member-code-key", *(f"source-secret/{n}" for n in services.settings.webhook_sources)))


@lru_cache(maxsize=1)
def member_codes(services: wiring.Services) -> MemberCodeCheck:
    """Not ``services.member_cards``: that one brings the table's storage module, which the intake never needs."""
    return MemberCodeCheck(lambda: services.secrets.get("member-code-key"), services.settings.member_code_ttl_seconds,
                           services.clock)


@app.post("/webhooks/<source>")
def receive_webhook(source: str):
    services: wiring.Services = app.context["services"]
    result = accept_delivery(
        source, app.current_event.headers or {}, raw_body(app), settings=services.settings,
        secret_for=lambda name: services.secrets.get(f"source-secret/{name}"),
        enqueue=services.ingest_queue.send, now=time.time(), refuse=member_codes(services).refuse)
    metrics.add_metric(name="EventsAccepted", unit="Count", value=len(result.accepted))
    if result.ignored:
        metrics.add_metric(name="FieldsIgnored", unit="Count", value=len(result.ignored))
    return json_response(202, result.response())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return app.resolve(event, context)
