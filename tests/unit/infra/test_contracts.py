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


ERROR_REF = {"$ref": "#/components/schemas/Error"}
BODYLESS = {("post", "/staff/{staff_id}/rotate-code"), ("post", "/staff/{staff_id}/link-code"),
            ("put", "/members/{member_id}/tags/{tag}"), ("post", "/campaigns/{campaign_id}/pause"),
            ("post", "/campaigns/{campaign_id}/resume")}


def admin_operations(document):
    return [(route.method.lower(), route.path, document["paths"][route.path][route.method.lower()])
            for route in load().routes if route.protected]


def test_admin_writes_with_a_body_declare_its_schema():
    document = openapi.build()
    writes = [(m, p, op) for m, p, op in admin_operations(document) if m in ("put", "post")]
    assert {(m, p) for m, p, _ in writes} >= BODYLESS
    for method, path, operation in writes:
        if (method, path) in BODYLESS:
            assert "requestBody" not in operation, path
            continue
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert schema["$ref"].removeprefix("#/components/schemas/") in document["components"]["schemas"], path


def test_admin_answers_declare_their_schemas_and_errors_the_one_error_shape():
    document = openapi.build()
    for _method, path, operation in admin_operations(document):
        responses = operation["responses"]
        successes = {s: r for s, r in responses.items() if s.startswith("2")}
        assert successes, path
        for response in successes.values():
            content = response["content"]
            assert (content["application/json"]["schema"] if "application/json" in content
                    else content["image/png"]["schema"]["format"] == "binary"), path
        for status in ("400", "404", "422"):
            assert responses[status]["content"]["application/json"]["schema"] == ERROR_REF, (path, status)
        assert {"401", "403"} <= set(responses) and "500" not in responses
    assert not {"HTTPValidationError", "ValidationError"} & set(document["components"]["schemas"])


def test_admin_routes_document_their_real_statuses_and_alternatives():
    paths = openapi.build()["paths"]
    assert set(paths["/campaigns"]["post"]["responses"]) & {"200", "201"} == {"201"}
    assert {"200", "202"} <= set(paths["/campaigns/{campaign_id}/run"]["post"]["responses"])
    assert {"200", "201", "409"} <= set(paths["/staff/{staff_id}"]["put"]["responses"])
    assert "409" in paths["/staff/{staff_id}/leave"]["post"]["responses"]
    assert set(paths["/staff/{staff_id}/qr"]["get"]["responses"]["200"]["content"]) == {"image/png",
                                                                                     "application/json"}
    for path in ("/staff/{staff_id}/statement", "/stores/{store_id}/statement"):
        assert set(paths[path]["get"]["responses"]["200"]["content"]) == {"application/json", "text/csv"}


def test_admin_query_parameters_are_declared():
    paths = openapi.build()["paths"]
    lookups = {p["name"]: p for p in paths["/members"]["get"]["parameters"] if p["in"] == "query"}
    assert set(lookups) == {"phone", "email", "line_user_id", "pos_member_no"}
    assert all(not p["required"] and p["schema"]["type"] == "string" for p in lookups.values())
    for path in ("/staff/{staff_id}/statement", "/stores/{store_id}/statement"):
        (month,) = [p for p in paths[path]["get"]["parameters"] if p["in"] == "query"]
        assert month["name"] == "month" and month["required"]
        assert month["schema"]["pattern"] == r"^[0-9]{4}-(0[1-9]|1[0-2])$"


def test_admin_path_ids_are_bounded():
    for _method, path, operation in admin_operations(openapi.build()):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path":
                assert parameter["schema"]["maxLength"] <= 128 and parameter["schema"]["pattern"], (path, parameter)
