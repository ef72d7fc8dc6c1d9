"""GET /r/{code}: a customer opens a share link; count the click, send them on with the referral.

A staff member's link carries their referral (``ref``); a campaign's link carries the campaign's ``utm_``
parameters and credits no staff member.

The route is public and opened in browsers, so every answer that is not the redirect is a small
HTML page, never JSON.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.core.http import create_app
from omo2c.core.observability import logger
from omo2c.core.pages import Text, answer_with_pages, html_page
from omo2c.core.snapstart import prime

app = create_app()
prime("omo2c.links.service", "omo2c.links.storage", "omo2c.staff.storage")

PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
MISSING = ("找不到這個連結", "這個連結不存在或已失效，請向服務人員索取新的連結。")
BROKEN = ("暫時無法開啟連結", "請稍後再試一次。")


def page(status: int, text: Text) -> Response:
    return html_page(status, text, PRIVATE)


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


answer_with_pages(app, page, MISSING, BROKEN, "share link")


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return app.resolve(event, context)
