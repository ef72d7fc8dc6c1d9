"""What every HTTP handler shares: one error mapping and JSON responses.

``create_app()`` is the lean resolver of the webhook intakes; ``create_app(validation=True)`` is
the admin APIs' resolver: Powertools validates each route's typed path and query parameters,
body and return value, and documents them in the OpenAPI schema ``infra.openapi`` publishes.
Both answer every error in the project's one shape (``{"error", "message", "details"}``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from pydantic import ValidationError

from omo2c.core.errors import InvalidEvent, MalformedBody, OmoError, validation_details
from omo2c.core.observability import logger

# Documented next to a route's own answers where a concurrent writer can make it answer 409.
CONFLICT = {"description": "Changed concurrently: read again and retry"}

_LOCATIONS = ("body", "query", "path", "header", "cookie")
_NOT_AN_OBJECT = ("model_type", "model_attributes_type", "dict_type")
_INTERNAL = {"error": "internal", "message": "internal error"}


def _dumps(body: Any) -> str:
    return json.dumps(body, default=str, ensure_ascii=False)


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=_dumps(body), headers=headers or {})


def respond(status: int, body: Any) -> Response:
    """A JSON response of a validating route: its declared model checks and serializes ``body``."""
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def error_response(error: OmoError) -> Response:
    return json_response(error.status, error.body())


def raw_body(app: APIGatewayHttpResolver) -> bytes:
    event = app.current_event
    if event.is_base64_encoded:
        import base64

        return base64.b64decode(event.body or "")
    return (event.body or "").encode()


def public_base(event: dict[str, Any], configured: str = "") -> str:
    """The URL customers and staff reach this API at: the configured one (a custom domain), else the
    request's own host and stage, as API Gateway (or the local run) received it."""
    if configured:
        return configured.rstrip("/")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    context = event.get("requestContext") or {}
    host = str(context.get("domainName") or headers.get("host") or "localhost")
    local = host.split(":")[0] in ("127.0.0.1", "localhost", "0.0.0.0")  # noqa: S104 - a name, not a bind
    scheme = headers.get("x-forwarded-proto") or ("http" if local else "https")
    stage = str(context.get("stage") or "$default")
    return f"{scheme}://{host}" + ("" if stage == "$default" else f"/{stage}")


def _field(loc: Sequence[Any]) -> str:
    """``("body", "segment", "napl", 0)`` → ``segment.napl.0``; a whole body or parameter keeps its place."""
    rest = loc[1:] if loc and loc[0] in _LOCATIONS else loc
    return ".".join(str(part) for part in rest) or (str(loc[0]) if loc else "")


def request_error(errors: Sequence[dict[str, Any]]) -> OmoError:
    """Powertools' request validation errors as the project's error: 400 for a body that is not a
    JSON object, else 422 naming each bad field (the values themselves are never echoed)."""
    if any(e.get("type") == "json_invalid" for e in errors):
        return MalformedBody("body is not valid JSON")
    if any(tuple(e.get("loc", ())) == ("body",) and e.get("type") in _NOT_AN_OBJECT for e in errors):
        return MalformedBody("body must be a JSON object")
    return InvalidEvent("invalid request", [{"field": _field(e.get("loc", ())), "problem": e.get("msg", "")}
                                            for e in errors])


def _validating_resolver() -> APIGatewayHttpResolver:
    from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
        OpenAPIRequestValidationMiddleware,
    )
    from aws_lambda_powertools.event_handler.openapi.exceptions import (
        RequestValidationError,
        ResponseValidationError,
    )

    class JsonBodies(OpenAPIRequestValidationMiddleware):
        """Every admin body is read as JSON whatever its Content-Type says (``curl -d`` keeps working);
        a blank body is no body."""

        def _get_body(self, app: Any) -> Any:
            try:
                if not (app.current_event.decoded_body or "").strip():
                    return None
                return self._parse_json_data(app)
            except (UnicodeDecodeError, RecursionError, ValueError) as exc:
                # ValueError: an integer longer than Python converts; RecursionError: nesting too deep.
                raise RequestValidationError([{"type": "json_invalid", "loc": ("body",),
                                               "msg": "body is not JSON we can read"}]) from exc

    app = APIGatewayHttpResolver(enable_validation=True, serializer=_dumps,
                                 response_validation_error_http_code=HTTPStatus.INTERNAL_SERVER_ERROR)
    if not hasattr(app, "_request_validation_middleware"):
        raise RuntimeError("this Powertools version validates requests differently; check JsonBodies")
    app._request_validation_middleware = JsonBodies()

    @app.exception_handler(RequestValidationError)
    def _invalid_request(error: RequestValidationError) -> Response:
        return error_response(request_error(error.errors()))

    @app.exception_handler(ResponseValidationError)
    def _invalid_response(error: ResponseValidationError) -> Response:
        logger.error("response does not match its declared model",
                     extra={"fields": [_field(e.get("loc", ())) for e in error.errors()]})
        return json_response(500, _INTERNAL)

    return app


def create_app(*, validation: bool = False) -> APIGatewayHttpResolver:
    """A resolver with the project's error mapping: domain errors keep their status, others 500."""
    app = _validating_resolver() if validation else APIGatewayHttpResolver()

    @app.exception_handler(OmoError)
    def _domain_error(error: OmoError) -> Response:
        return error_response(error)

    @app.exception_handler(ValidationError)
    def _validation_error(error: ValidationError) -> Response:
        return error_response(InvalidEvent("invalid request", validation_details(error)))

    @app.not_found
    def _not_found(_: Exception) -> Response:
        return json_response(404, {"error": "not_found", "message": "no such route"})

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unhandled error", extra={"error_type": type(error).__name__})
        return json_response(500, _INTERNAL)

    return app
