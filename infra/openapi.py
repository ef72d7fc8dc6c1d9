"""The public OpenAPI document, generated from the code.

Paths come from each HTTP function's Powertools resolver (the functions the template wires
to the HTTP API): the admin routes declare their path and query parameters, bodies and answers
as typed models (the same models validate requests and responses). The webhook body is the
canonical event's JSON Schema; every error answer carries the one ``Error`` shape; admin routes
carry the bearer scheme exactly where the template puts the authorizer.
"""

from __future__ import annotations

import json
from typing import Any

from infra.handlers import load_handler
from infra.template import ROOT, load

DOCUMENT = ROOT / "docs" / "openapi.json"
CANONICAL_SCHEMA = ROOT / "docs" / "canonical-event.schema.json"

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "details": {"type": "array", "items": {"type": "object", "properties": {
            "field": {"type": "string"}, "problem": {"type": "string"}}}},
    },
}
IGNORED_FIELD = {"type": "object", "required": ["event_id", "field", "reason"],
                 "properties": {"event_id": {"type": "string"}, "field": {"type": "string"},
                                "reason": {"type": "string"}}}
ACCEPTED_SCHEMA = {"type": "object", "required": ["accepted"],
                   "properties": {"accepted": {"type": "array", "items": {"type": "string"}},
                                  "ignored": {"type": "array", "items": IGNORED_FIELD,
                                              "description": "Fields dropped from accepted events, and why"}}}


def http_functions() -> list[dict[str, Any]]:
    """Functions with HttpApi events: logical id, handler file and routes with their auth."""
    return [{"logical_id": f.logical_id, "path": f.module_path,
             "routes": [(r.method.lower(), r.path, r.protected) for r in f.routes]}
            for f in load().functions.values() if f.routes]


def canonical_schema() -> dict[str, Any]:
    from omo2c.sources.canonical import CanonicalEvent, Delivery

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "OMO2C canonical event delivery",
        "description": "One canonical event, or {\"events\": [...]} with at most 100 of them.",
        "oneOf": [CanonicalEvent.model_json_schema(ref_template="#/$defs/{model}"),
                  Delivery.model_json_schema(ref_template="#/$defs/{model}")],
    }


POWERTOOLS_ERRORS = {"HTTPValidationError", "ValidationError", "ResponseValidationError"}
ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _errors_in_our_shape(responses: dict[str, Any]) -> None:
    """Every error answer carries the one error shape (Powertools' own validation shapes never go out).

    Powertools documents a 500 for a response that fails its model: that is a bug of ours, not a
    contract, so it is left out."""
    responses.pop("500", None)
    for status, response in responses.items():
        if int(status) >= 400:
            response.update(ERROR)
            if response.get("description") in ("Validation Error", "Successful Response"):
                response["description"] = "Error"
    for status in ("400", "404", "422"):
        responses.setdefault(status, {"description": "Error", **ERROR})


def _without_null(parameter: dict[str, Any]) -> dict[str, Any]:
    """An optional query parameter is left out, never sent as null: ``anyOf [T, null]`` → ``T``."""
    schema = parameter.get("schema", {})
    kinds = [k for k in schema.get("anyOf", []) if k != {"type": "null"}]
    if len(kinds) == 1 and len(kinds) < len(schema["anyOf"]):
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        parameter["schema"] = {**kinds[0], **rest}
    return parameter


def _merge_schemas(into: dict[str, Any], schemas: dict[str, Any], owner: str) -> None:
    for name, schema in schemas.items():
        if name in POWERTOOLS_ERRORS:
            continue
        if into.setdefault(name, schema) != schema:
            raise ValueError(f"{owner} defines a different schema named {name}: rename one of them")


def build() -> dict[str, Any]:
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": "OMO2C", "version": "0.1.0",
                 "description": "POS/EC webhooks, the LINE webhook and the admin API of OMO2C."},
        "paths": {},
        "components": {
            "securitySchemes": {"adminBearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": ERROR_SCHEMA},
        },
    }
    delivery = canonical_schema()
    for function in http_functions():
        generated = load_handler(function["logical_id"]).app.get_openapi_schema(title="OMO2C").model_dump(
            mode="json", by_alias=True, exclude_none=True)
        for method, path, protected in function["routes"]:
            operation = generated.get("paths", {}).get(path, {}).get(method)
            if operation is None:
                raise LookupError(f"{function['logical_id']} does not serve {method.upper()} {path}")
            operation.setdefault("tags", [function["logical_id"].removesuffix("Function")])
            operation["parameters"] = [_without_null(p) for p in operation.get("parameters", [])]
            if not operation["parameters"]:
                del operation["parameters"]
            responses = operation.setdefault("responses", {})
            if path == "/webhooks/{source}":
                operation["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/CanonicalDelivery"}}}}
                responses.pop("200", None)
                responses["202"] = {"description": "Accepted: the event ids now queued", "content": {
                    "application/json": {"schema": ACCEPTED_SCHEMA}}}
                responses["401"] = {"description": "Missing, wrong or stale signature"}
                responses["413"] = {"description": "Body over 256 KiB"}
            _errors_in_our_shape(responses)
            if protected:
                operation["security"] = [{"adminBearer": []}]
                responses.setdefault("401", {"description": "Missing bearer token"})
                responses.setdefault("403", {"description": "Wrong bearer token"})
            document["paths"].setdefault(path, {})[method] = operation
        _merge_schemas(document["components"]["schemas"], generated.get("components", {}).get("schemas", {}),
                       function["logical_id"])
    defs = delivery.pop("$defs", {})
    for item in delivery["oneOf"]:
        defs.update(item.pop("$defs", {}))
    canonical = {name: json.loads(json.dumps(schema).replace("#/$defs/", "#/components/schemas/"))
                 for name, schema in {"CanonicalDelivery": delivery, **defs}.items()}
    _merge_schemas(document["components"]["schemas"], canonical, "the canonical event")
    return document


def write() -> None:
    DOCUMENT.parent.mkdir(exist_ok=True)
    DOCUMENT.write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n")
    schema = canonical_schema()
    CANONICAL_SCHEMA.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    write()
    print(f"wrote {DOCUMENT.relative_to(ROOT)} and {CANONICAL_SCHEMA.relative_to(ROOT)}")
