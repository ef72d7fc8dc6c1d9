"""The one gate of every signed-in route: a route is the admin's unless its handler opens it to more roles.

The gate runs before the resolver reads the request, so a caller out of scope learns nothing,
not even whether their body would have been valid. Which record a manager or staff member may
see is then decided by the route's own service with :mod:`omo2c.access.model`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any

from omo2c.access.model import NOT_YOURS, Principal, Role, caller
from omo2c.core.errors import Forbidden, OmoError
from omo2c.core.observability import logger

OpenTo = Mapping[str, Collection[Role]]


def admit(event: Mapping[str, Any], open_to: OpenTo | None = None) -> Principal:
    principal = caller(event)
    if principal.is_admin or principal.role in (open_to or {}).get(str(event.get("routeKey", "")), ()):
        return principal
    raise Forbidden(NOT_YOURS)


def resolve(app: Any, event: dict[str, Any], context: Any, open_to: OpenTo | None = None) -> dict[str, Any]:
    """Admit the caller, then let ``app`` answer with ``app.context["principal"]`` set."""
    try:
        principal = admit(event, open_to)
    except OmoError as error:
        logger.info("request refused", extra={"route": event.get("routeKey"), "status": error.status})
        return {"statusCode": error.status, "headers": {"Content-Type": "application/json"},
                "body": json.dumps(error.body(), ensure_ascii=False)}
    app.append_context(principal=principal)
    return app.resolve(event, context)
