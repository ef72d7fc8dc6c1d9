"""GET /member-card/{code}: the member card's QR image, which LINE fetches for the card message.

Public (LINE's servers fetch it with no credentials) and stateless: a code is drawn only while its signature
and expiry hold, and anything else is the same bare 404, whether forged, expired or malformed.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.cards.service import MemberCodeCheck
from omo2c.core.http import create_app, json_response
from omo2c.core.observability import logger

app = create_app()
PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
MISSING = {"error": "not_found", "message": "no such member card"}


@lru_cache(maxsize=1)
def member_codes(services: wiring.Services) -> MemberCodeCheck:
    """The key is read once per process; this function reads no table."""
    return MemberCodeCheck(lambda: services.secrets.get("member-code-key"), services.settings.member_code_ttl_seconds,
                           services.clock)


@app.get("/member-card/<code>", summary="A member card's QR code (PNG)",
         description="Only while the code is valid (five minutes by default); otherwise 404. Never cached.",
         responses={200: {"description": "The QR code", "content": {
             "image/png": {"schema": {"type": "string", "format": "binary"}}}},
                    404: {"description": "No such member card"}})
def member_card_image(code: str):
    png = member_codes(app.context["services"]).image(code)
    if png is None:
        return json_response(404, MISSING, headers=PRIVATE)
    return Response(status_code=200, content_type="image/png", body=png, headers=PRIVATE)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return app.resolve(event, context)
