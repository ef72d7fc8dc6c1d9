"""The staff console's first load on a phone: every byte the page fetches before images.

The page, its script and styles and ``config.json`` are fetched through the console handler as
the HTTP API serves them (bodies and response headers counted; nothing is compressed, which
API Gateway would not do either). The goal is under 100 KB.
"""

from __future__ import annotations

import re

from tests.support.aws import FakeContext, http_event


def _get(handler, path: str, route: str, params: dict[str, str] | None = None) -> dict:
    return handler.lambda_handler(http_event("GET", path, route=route, path_params=params, caller=None),
                                  FakeContext())


def measure() -> dict[str, float]:
    from infra import moto_stack
    from infra.handlers import load_handler

    with moto_stack.in_process():
        console = load_handler("ConsoleFunction")
        page = _get(console, "/console", "/console")
        fetched = [page]
        for asset in [*re.findall(r'"console/([a-z.]+)(?:\?v=[0-9a-f]+)?"', page["body"]), "config.json"]:
            fetched.append(_get(console, f"/console/{asset}", "/console/{asset}", {"asset": asset}))
        assert all(r["statusCode"] == 200 for r in fetched), [r["statusCode"] for r in fetched]
        body = sum(len((r["body"] or "").encode()) for r in fetched)
        headers = sum(len(f"{k}: {v}\r\n".encode()) for r in fetched for k, v in (r.get("headers") or {}).items())
        return {"console_first_load_kb": round((body + headers) / 1024, 1), "console_requests": len(fetched)}


if __name__ == "__main__":
    print(measure())
