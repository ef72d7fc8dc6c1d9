"""API keys for POS/EC systems and reporting tools, instead of the admin token (the admin's only)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.access.api_models import ApiKeyIn, ApiKeys, ApiKeyView, NewApiKey
from omo2c.access.http import resolve
from omo2c.core.http import create_app, respond
from omo2c.core.observability import logger

app = create_app(validation=True)


def _keys():
    services: wiring.Services = app.context["services"]
    return services.api_keys


@app.post("/api-keys", summary="Create an API key",
          description="The key is in this answer only; it is stored as a hash and cannot be shown again.",
          responses={201: {"description": "The key, once"}})
def create(body: Annotated[ApiKeyIn, Body()]) -> Response[NewApiKey]:
    return respond(201, _keys().create(body.name, body.role, body.store_id))


@app.get("/api-keys", summary="Every API key (never the keys themselves)")
def list_keys() -> ApiKeys:
    return _keys().list()


KeyPath = Annotated[str, Path(description="The key's id.", pattern="^[0-9a-f]{12}$", max_length=12)]


@app.delete("/api-keys/<key_id>", summary="Revoke an API key", description="At once and for good.")
def revoke(key_id: KeyPath) -> ApiKeyView:
    return _keys().revoke(key_id)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return resolve(app, event, context)
