"""HTTP API Lambda authorizer (simple responses) for every signed-in route.

It says who the caller is — the admin, an API key's scope, or a staff member signed in with
LINE — and passes role, staff id and store id to the route's handler, which decides what of
it the caller may see.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.core.errors import OmoError
from omo2c.core.observability import logger
from omo2c.core.snapstart import prime

prime("jwt", "cryptography.hazmat.primitives.asymmetric.ec", "omo2c.access.id_token", "omo2c.access.storage",
      "omo2c.staff.storage")


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    services = services or wiring.production()
    try:
        principal = services.authenticator.authenticate(headers.get("authorization"))
    except OmoError as refused:
        logger.info("request refused", extra={"route": event.get("routeKey"), "reason": refused.code})
        return {"isAuthorized": False, "context": {}}
    logger.info("request admitted", extra={"route": event.get("routeKey"), "caller": principal.label})
    return {"isAuthorized": True, "context": principal.context()}
