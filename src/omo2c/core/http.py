"""What every HTTP handler shares: one error mapping and JSON responses."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from pydantic import ValidationError

from omo2c.core.errors import InvalidEvent, MalformedBody, OmoError, validation_details
from omo2c.core.observability import logger


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON,
                    body=json.dumps(body, default=str, ensure_ascii=False), headers=headers or {})


def error_response(error: OmoError) -> Response:
    return json_response(error.status, error.body())


def json_body(app: APIGatewayHttpResolver) -> dict[str, Any]:
    """The request's JSON object body, or a 400 naming what is wrong."""
    raw = app.current_event.decoded_body or ""
    if not raw.strip():
        return {}
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise MalformedBody("body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise MalformedBody("body must be a JSON object")
    return payload


def raw_body(app: APIGatewayHttpResolver) -> bytes:
    event = app.current_event
    if event.is_base64_encoded:
        import base64

        return base64.b64decode(event.body or "")
    return (event.body or "").encode()


def create_app() -> APIGatewayHttpResolver:
    """A resolver with the project's error mapping: domain errors keep their status, others 500."""
    app = APIGatewayHttpResolver()

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
        return json_response(500, {"error": "internal", "message": "internal error"})

    return app
