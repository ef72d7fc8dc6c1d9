"""Fuzz the local run's HTTP API from its own OpenAPI document: no 5xx, every 4xx explains itself."""

from __future__ import annotations

import json
import time

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.core import NOT_SET, NotSet

from omo2c.sources.signatures import omo_signature

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="session")
def api_schema(local_stack):
    schema = schemathesis.openapi.from_url(f"{local_stack.url}/openapi.json")
    schema.config.update(base_url=local_stack.url)
    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_clear_client_errors(case, local_stack):
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {local_stack.admin_token}"}
    if case.path == "/webhooks/{source}":
        case.path_parameters = {"source": "pos"}
        if isinstance(case.body, NotSet):
            body = b""
        elif isinstance(case.body, bytes):
            body = case.body
        else:
            body = json.dumps(case.body, default=str).encode()
        ts = str(int(time.time()))
        case.body = NOT_SET
        case.headers.update({"X-Omo-Timestamp": ts, "X-Omo-Signature": omo_signature("local-pos-secret", ts, body),
                             "Content-Type": "application/json"})
        response = case.call(data=body)
    else:
        response = case.call()
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:300]}"
    if 400 <= response.status_code < 500:
        where = f"{case.method} {case.formatted_path}: {response.text[:300]}"
        if _content_type(response).startswith("text/html"):  # a share link opened in a browser
            assert "<h1>" in response.text, where
        else:
            assert response.json().get("message"), where


def _content_type(response) -> str:
    """Schemathesis keeps headers as lists under lower-case names; requests as a case-insensitive map."""
    value = next((v for k, v in response.headers.items() if k.lower() == "content-type"), "")
    return str(value[0] if isinstance(value, list) and value else value)
