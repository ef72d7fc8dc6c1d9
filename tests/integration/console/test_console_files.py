"""The staff console's static files through its handler: headers a phone and a browser rely on, and no way out
of the allow-list; the 行銷與報表 area's files and the vendored chart library beside them, pinned the same way."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from omo2c import wiring
from omo2c.core.settings import Settings
from tests.support.aws import http_event, load_handler

STATIC = ("index.html", "app.js", "app.css")  # what a staff member's phone loads
MARKETER = ("marketing.js", "marketing.css", "chartist.js", "chartist.css")  # loaded when 行銷與報表 opens
VENDOR = Path(__file__).resolve().parents[3] / "functions" / "console" / "static" / "vendor" / "chartist"


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
    for asset in (*STATIC[1:], *MARKETER):
        kind = "text/javascript" if asset.endswith(".js") else "text/css"
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
                                  "/console/../app.py", "/console/%2e%2e%2fapp.py", "/console/static%2Fapp.js",
                                  "/console/vendor%2Fchartist%2Fchartist.umd.js", "/console/chartist.umd.js",
                                  "/console/README.md", "/console/LICENSE-MIT", "/console/vendor"])
def test_anything_outside_the_allow_list_is_404(console, path):
    response = console(path)
    assert response["statusCode"] == 404
    assert "def lambda_handler" not in (response.get("body") or "")


def _size(console, names) -> int:
    return sum(len(console("/console" if name == "index.html" else f"/console/{name}")["body"].encode())
               for name in names)


def test_the_three_files_together_stay_under_100_kb(console):
    total = _size(console, STATIC)
    assert total < 100 * 1024, total


def test_the_marketer_area_and_its_charts_load_only_when_it_opens(console):
    page = console("/console")["body"]
    # The page names them only as data for app.js: no tag of the page loads them.
    for name in MARKETER:
        assert re.search(rf'data-[a-z-]+="console/{re.escape(name)}\?v=[0-9a-f]{{16}}"', page), name
        assert not re.search(rf'<(?:script|link)[^>]*(?:src|href)="console/{re.escape(name)}', page), name
    assert _size(console, MARKETER) < 100 * 1024  # the area's script and styles and the chart library


def test_the_vendored_chart_library_is_the_package_its_readme_names():
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    assert "chartist@1.5.0" in readme
    for name in ("chartist.umd.js", "chartist.css"):
        body = (VENDOR / name).read_bytes()
        row = next(line for line in readme.splitlines() if line.startswith(f"| `{name}`"))
        assert f"| {len(body)} |" in row and hashlib.sha256(body).hexdigest() in row, row
    assert "Permission is hereby granted" in (VENDOR / "LICENSE-MIT").read_text(encoding="utf-8")


def test_the_chart_library_is_served_under_the_same_strict_policy(console):
    script = console("/console/chartist.js")
    assert script["statusCode"] == 200 and "Chartist" in script["body"]
    csp = header(script, "Content-Security-Policy")
    assert "style-src 'self';" in csp and "unsafe-inline" not in csp
