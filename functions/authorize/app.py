"""HTTP API Lambda authorizer (simple responses) for every admin route."""

from __future__ import annotations

import hmac

from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.core.observability import logger


def is_authorized(header: str | None, token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and bool(given) and hmac.compare_digest(given.strip().encode(), token.encode())


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    token = (services or wiring.production()).secrets.get("admin-token")
    allowed = is_authorized(headers.get("authorization"), token)
    if not allowed:
        logger.info("admin request refused", extra={"route": event.get("routeKey")})
    return {"isAuthorized": allowed, "context": {"principal": "admin"} if allowed else {}}
