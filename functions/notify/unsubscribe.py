"""GET and POST /u/{token}: the unsubscribe link of every campaign e-mail turns e-mail off at once.

GET is a person clicking the footer link; POST is a mail client's one-click unsubscribe (RFC 8058,
a ``List-Unsubscribe=One-Click`` form body, which is not needed: any body is taken). Both answer the
same small HTML page, again on a second click. The route is public (the signed token is the
authority), so every answer is an HTML page, never JSON; an invalid or expired link is a 404 page
and changes nothing.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.core.http import create_app
from omo2c.core.observability import logger, metrics
from omo2c.core.pages import Text, answer_with_pages, html_page
from omo2c.core.snapstart import prime

app = create_app()
prime("omo2c.mailing.service", "omo2c.members.storage", "omo2c.campaigns.storage")

HTML = {"text/html": {"schema": {"type": "string"}}}
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
DONE = ("已取消訂閱", "您已取消訂閱{brand}的電子郵件，之後不會再收到這類信件。")
INVALID = ("這個連結無效", "這個取消訂閱連結無效或已過期，您的設定沒有任何變更。")
BROKEN = ("暫時無法處理", "請稍後再試一次。")
STYLE = ("body{margin:0;padding:48px 16px;background:#f4f4f4;color:#222;font-family:-apple-system,"
         "'PingFang TC','Microsoft JhengHei',sans-serif;line-height:1.7}"
         "main{max-width:480px;margin:0 auto;padding:24px;background:#fff;border-radius:8px}h1{font-size:20px}")


def page(status: int, text: Text) -> Response:
    return html_page(status, text, HEADERS, STYLE)


@app.route("/u/<token>", method=["GET", "POST"], summary="Unsubscribe from campaign e-mail",
           description="GET (the footer link) and POST (RFC 8058 one-click, any body) turn the member's e-mail "
                       "consent off at once and answer an HTML page; a second click answers the same. "
                       "An invalid or expired link is a 404 HTML page and changes nothing.",
           responses={200: {"description": "Unsubscribed (an HTML page)", "content": HTML},
                      404: {"description": "The link is not valid (an HTML page)", "content": HTML}})
def unsubscribe(token: str):
    services: wiring.Services = app.context["services"]
    outcome = services.email_preferences.unsubscribe(token)
    metrics.add_metric(name="EmailUnsubscribed" if outcome == "unsubscribed" else "EmailUnsubscribeRepeated",
                       unit="Count", value=1)
    title, text = DONE
    return page(200, (title, text.format(brand=services.settings.brand_name)))


answer_with_pages(app, page, INVALID, BROKEN, "unsubscribe")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return app.resolve(event, context)
