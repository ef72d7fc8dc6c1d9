"""The public OpenAPI document, generated from the code.

Paths come from each HTTP function's Powertools resolver (the functions the template wires
to the HTTP API); the webhook body is the canonical event's JSON Schema; admin routes carry
the bearer scheme exactly where the template puts the authorizer.
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
            responses = operation.setdefault("responses", {})
            error = {"description": "Error", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Error"}}}}
            for status in ("400", "404", "422"):
                responses.setdefault(status, error)
            if protected:
                operation["security"] = [{"adminBearer": []}]
                responses.setdefault("401", {"description": "Missing bearer token"})
                responses.setdefault("403", {"description": "Wrong bearer token"})
            if path == "/webhooks/{source}":
                operation["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/CanonicalDelivery"}}}}
                responses.setdefault("202", {"description": "Accepted: the event ids now queued"})
                responses.setdefault("401", {"description": "Missing, wrong or stale signature"})
                responses.setdefault("413", error)
            document["paths"].setdefault(path, {})[method] = operation
        for name, schema in generated.get("components", {}).get("schemas", {}).items():
            document["components"]["schemas"].setdefault(name, schema)
    defs = delivery.pop("$defs", {})
    for item in delivery["oneOf"]:
        defs.update(item.pop("$defs", {}))
    document["components"]["schemas"]["CanonicalDelivery"] = json.loads(
        json.dumps(delivery).replace("#/$defs/", "#/components/schemas/"))
    for name, schema in defs.items():
        document["components"]["schemas"][name] = json.loads(
            json.dumps(schema).replace("#/$defs/", "#/components/schemas/"))
    return document


def write() -> None:
    DOCUMENT.parent.mkdir(exist_ok=True)
    DOCUMENT.write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n")
    schema = canonical_schema()
    CANONICAL_SCHEMA.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    write()
    print(f"wrote {DOCUMENT.relative_to(ROOT)} and {CANONICAL_SCHEMA.relative_to(ROOT)}")
