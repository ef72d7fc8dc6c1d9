"""GET /console and /console/{asset}: the staff console's few static files, read once per container.

A fixed allow-list means no part of the request ever reaches the file system. The page names its
script and styles with a content hash, so a phone keeps them for a year and still sees a new
release at once; the page itself and ``config.json`` are cached for a minute only.

Staff load the page, ``app.js`` and ``app.css`` only. The 行銷與報表 area's script and styles and the
vendored chart library (``static/vendor/chartist/``, see its README) are fetched by ``app.js`` when
that area opens; their hashed URLs ride on the page's ``<script data-…>`` attributes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from omo2c import wiring
from omo2c.core.http import create_app, json_response
from omo2c.core.observability import logger

STATIC = Path(__file__).resolve().parent / "static"
SHORT = "public, max-age=60"
LONG = "public, max-age=31536000, immutable"
# The LIFF SDK comes from LINE's CDN and talks to LINE's APIs; everything else is our own origin.
CSP = "; ".join((
    "default-src 'self'",
    "script-src 'self' https://static.line-scdn.net",
    "style-src 'self'",
    "img-src 'self' https: data: blob:",
    "connect-src 'self' https://api.line.me https://access.line.me https://*.line.me https://*.line-scdn.net",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
SECURITY = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "strict-origin-when-cross-origin", "X-Frame-Options": "DENY"}
TYPES = {"html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8",
         "css": "text/css; charset=utf-8", "json": "application/json; charset=utf-8"}


@dataclass(frozen=True)
class Asset:
    body: str
    content_type: str
    version: str  # a content hash: the ETag, and the ?v= the page asks for

    @classmethod
    def of(cls, body: str, kind: str) -> Asset:
        return cls(body, TYPES[kind], hashlib.sha256(body.encode()).hexdigest()[:16])


# The allow-list: the name in the URL (one path segment, as the route has it) and the file under static/.
FILES = {"app.js": "app.js", "app.css": "app.css", "marketing.js": "marketing.js", "marketing.css": "marketing.css",
         "chartist.js": "vendor/chartist/chartist.umd.js", "chartist.css": "vendor/chartist/chartist.css"}


def _read() -> dict[str, Asset]:
    """The allow-list, with the page's asset references pinned to the assets' hashes."""
    assets = {name: Asset.of((STATIC / path).read_text(encoding="utf-8"), path.rsplit(".", 1)[-1])
              for name, path in FILES.items()}
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    for name, found in assets.items():
        page = page.replace(f'"console/{name}"', f'"console/{name}?v={found.version}"')
    return {"index.html": Asset.of(page, "html"), **assets}


ASSETS = _read()
app = create_app()


def _serve(asset: Asset, cache: str) -> Response:
    etag = f'"{asset.version}"'
    headers = {**SECURITY, "Cache-Control": cache, "ETag": etag}
    if etag in (app.current_event.headers or {}).get("if-none-match", ""):
        return Response(status_code=304, body="", headers=headers)
    return Response(status_code=200, content_type=asset.content_type, body=asset.body, headers=headers)


def _not_found() -> Response:
    return json_response(404, {"error": "not_found", "message": "no such file"}, {**SECURITY, "Cache-Control": SHORT})


@app.get("/console")
def page():
    return _serve(ASSETS["index.html"], SHORT)


@app.get("/console/<asset>")
def asset(asset: str):
    if asset == "config.json":
        settings = app.context["services"].settings
        body = json.dumps({"liff_id": settings.liff_id, "brand": settings.brand_name}, ensure_ascii=False)
        return _serve(Asset.of(body, "json"), SHORT)
    found = ASSETS.get(asset) if asset != "index.html" else None
    if found is None:
        return _not_found()
    pinned = (app.current_event.query_string_parameters or {}).get("v") == found.version
    return _serve(found, LONG if pinned else SHORT)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context: LambdaContext, services: wiring.Services | None = None) -> dict:
    app.append_context(services=services or wiring.production())
    return app.resolve(event, context)
