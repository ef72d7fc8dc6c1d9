"""``docs/events.schema.json``: the JSON Schema of every event on the bus, generated from
:mod:`omo2c.events` (a test fails when the file is stale).

    python -m infra.events_schema
"""

from __future__ import annotations

import json

from infra.template import ROOT

DOCUMENT = ROOT / "docs" / "events.schema.json"


def build() -> dict:
    from omo2c.events import schema

    return json.loads(json.dumps(schema()))


def write() -> None:
    DOCUMENT.write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    write()
    print(f"wrote {DOCUMENT.relative_to(ROOT)}")
