"""The published contracts stay true: handlers exist, the OpenAPI document is current and complete."""

from __future__ import annotations

import json

from infra import openapi
from infra.template import load


def test_every_function_handler_named_in_the_template_exists():
    for function in load().functions.values():
        assert function.module_path.exists(), function.module_path


def test_openapi_document_is_generated_from_the_code_and_current():
    current = json.loads(openapi.DOCUMENT.read_text())
    assert current == json.loads(json.dumps(openapi.build())), "run `python -m infra.openapi`"
    assert json.loads(openapi.CANONICAL_SCHEMA.read_text()) == json.loads(json.dumps(openapi.canonical_schema()))


def test_openapi_lists_every_route_with_its_security():
    document = openapi.build()
    for route in load().routes:
        operation = document["paths"][route.path][route.method.lower()]
        assert ("security" in operation) == route.protected, route.key
