"""Small HTML pages for the public routes people open in a browser (share links, unsubscribe links).

A public route answers a person, never JSON: its errors are pages too, each a fixed title and line.
"""

from __future__ import annotations

from html import escape
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError

from omo2c.core.errors import NotFound, OmoError
from omo2c.core.observability import logger

Text = tuple[str, str]  # (title, line)


def html_page(status: int, text: Text, headers: dict[str, str], style: str = "") -> Response:
    title, line = text
    head = f"<style>{style}</style>" if style else ""
    body = (f'<!doctype html><html lang="zh-Hant"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            f"{head}</head><body><main><h1>{escape(title)}</h1><p>{escape(line)}</p></main></body></html>")
    return Response(status_code=status, content_type="text/html; charset=utf-8", body=body,
                    headers={"X-Content-Type-Options": "nosniff", **headers})


def answer_with_pages(app: Any, page: Any, missing: Text, broken: Text, what: str) -> None:
    """Unknown routes and NotFound answer ``missing`` (404); any other refusal or failure ``broken``."""

    @app.exception_handler(NotFoundError)
    def _no_route(_: Exception) -> Response:
        return page(404, missing)

    @app.exception_handler(OmoError)
    def _refused(error: OmoError) -> Response:
        if isinstance(error, NotFound):
            return page(404, missing)
        logger.warning(f"{what} not done", extra={"error": error.code})
        return page(error.status, broken)

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("unhandled error", extra={"error_type": type(error).__name__})
        return page(500, broken)
