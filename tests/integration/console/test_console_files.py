"""The staff console's static files through its handler: headers a phone and a browser rely on, and no way out
of the allow-list."""

from __future__ import annotations

import json
import re

import pytest

from omo2c import wiring
from omo2c.core.settings import Settings
from tests.support.aws import http_event, load_handler

STATIC = ("index.html", "app.js", "app.css")


@pytest.fixture
def console(aws, lambda_context):
    handler = load_handler("ConsoleFunction")
    services = wiring.Services(Settings.from_env().model_copy(update={"liff_id": "2000000000-AbCdEfGh",
                                                                        "brand_name": "好茶"}))

    def get(path: str, *, query: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> dict:
        route = "/console" if path == "/console" else "/console/{asset}"
        params = None if path == "/console" else {"asset": path.removeprefix("/console/")}
        event = http_event("GET", path, route=route, query=query, headers=headers, path_params=params)
        return handler.lambda_handler(event, lambda_context, services=services)

    return get


def header(response: dict, name: str) -> str:
    return {k.lower(): v for k, v in response["headers"].items()}.get(name.lower(), "")


def test_the_page_is_html_with_a_strict_policy(console):
    page = console("/console")
    assert page["statusCode"] == 200
    assert header(page, "Content-Type") == "text/html; charset=utf-8"
    assert header(page, "X-Content-Type-Options") == "nosniff"
    csp = header(page, "Content-Security-Policy")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self' https://static.line-scdn.net" in csp
    assert "img-src 'self' https: data: blob:" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "max-age=60" in header(page, "Cache-Control")
    assert "開發用登入" in page["body"] and 'data-testid="reply-send"' in page["body"]


def test_each_asset_has_its_type_and_the_page_pins_it_by_hash(console):
    page = console("/console")["body"]
    for asset, kind in (("app.js", "text/javascript"), ("app.css", "text/css")):
        plain = console(f"/console/{asset}")
        assert plain["statusCode"] == 200 and header(plain, "Content-Type") == f"{kind}; charset=utf-8"
        assert header(plain, "X-Content-Type-Options") == "nosniff"
        version = re.search(rf'"console/{re.escape(asset)}\?v=([0-9a-f]+)"', page).group(1)
        assert header(plain, "ETag") == f'"{version}"'
        assert "max-age=60" in header(plain, "Cache-Control")  # unpinned: may change under the same URL
        pinned = console(f"/console/{asset}", query={"v": version})
        assert "max-age=31536000" in header(pinned, "Cache-Control")
        again = console(f"/console/{asset}", headers={"If-None-Match": f'"{version}"'})
        assert again["statusCode"] == 304 and not again["body"]


def test_config_carries_the_liff_id_and_brand(console):
    config = console("/console/config.json")
    assert config["statusCode"] == 200
    assert header(config, "Content-Type") == "application/json; charset=utf-8"
    assert json.loads(config["body"]) == {"liff_id": "2000000000-AbCdEfGh", "brand": "好茶"}
    assert "max-age=60" in header(config, "Cache-Control")


@pytest.mark.parametrize("path", ["/console/nope.js", "/console/index.html", "/console/app.py", "/console/..%2Fapp.py",
                                  "/console/../app.py", "/console/%2e%2e%2fapp.py", "/console/static%2Fapp.js"])
def test_anything_outside_the_allow_list_is_404(console, path):
    response = console(path)
    assert response["statusCode"] == 404
    assert "def lambda_handler" not in (response.get("body") or "")


def test_the_three_files_together_stay_under_100_kb(console):
    total = sum(len(console("/console" if name == "index.html" else f"/console/{name}")["body"].encode())
                for name in STATIC)
    assert total < 100 * 1024, total
