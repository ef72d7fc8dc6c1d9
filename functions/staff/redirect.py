"""GET /r/{code}: a customer opens a share link; count the click, send them on with the referral.

A staff member's link carries their referral (``ref``); a campaign's link carries the campaign's ``utm_``
parameters and credits no staff member.

The route is public and opened in browsers, so every answer that is not the redirect is a small
HTML page, never JSON.
"""

from __future__ import annotations

from html import escape

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.core.errors import NotFound, OmoError
from omo2c.core.http import create_app
from omo2c.core.observability import logger
from omo2c.core.snapstart import prime

app = create_app()
prime("omo2c.links.service", "omo2c.links.storage", "omo2c.staff.storage")

PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
MISSING = ("找不到這個連結", "這個連結不存在或已失效，請向服務人員索取新的連結。")
BROKEN = ("暫時無法開啟連結", "請稍後再試一次。")


def page(status: int, title: str, text: str) -> Response:
    body = (f'<!doctype html><html lang="zh-Hant"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{escape(title)}</title>'
            f"</head><body><h1>{escape(title)}</h1><p>{escape(text)}</p></body></html>")
    return Response(status_code=status, content_type="text/html; charset=utf-8", body=body,
                    headers={**PRIVATE, "X-Content-Type-Options": "nosniff"})


@app.get("/r/<code>", summary="Open a share link (a staff member's or a campaign's)",
         description="302 to the product page with `ref=<code>.<share epoch>.<click epoch>` in its query "
                     "(a campaign's link: `utm_source=omo2c&utm_medium=<channel>&utm_campaign=<campaign id>` "
                     "instead, unless the page's URL has its own `utm_` parameters); the click is counted "
                     "(link previews and crawlers, and the same visitor again within a day, apart). An unknown "
                     "code is a 404 HTML page.",
         responses={302: {"description": "To the product page, with the staff member's referral or the "
                                         "campaign's parameters"},
                    404: {"description": "No such link (an HTML page)"}})
def open_link(code: str):
    services: wiring.Services = app.context["services"]
    event = app.current_event
    location = services.share_links.open(code, (event.headers or {}).get("user-agent"),
                                         event.request_context.http.source_ip)
    return Response(status_code=302, headers={**PRIVATE, "Location": location})


@app.exception_handler(NotFoundError)
def _no_route(_: Exception) -> Response:
    return page(404, *MISSING)


@app.exception_handler(OmoError)
def _refused(error: OmoError) -> Response:
    if isinstance(error, NotFound):
        return page(404, *MISSING)
    logger.warning("share link not opened", extra={"error": error.code})
    return page(error.status, *BROKEN)


@app.exception_handler(Exception)
def _unexpected(error: Exception) -> Response:
    logger.exception("unhandled error", extra={"error_type": type(error).__name__})
    return page(500, *BROKEN)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return app.resolve(event, context)
