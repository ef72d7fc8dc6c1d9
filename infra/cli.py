"""The `omo2c` command: `omo2c local` runs the stack, `omo2c invoke` runs one handler."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def _running_stack() -> dict[str, Any] | None:
    from infra.local import STATE_FILE

    if not STATE_FILE.exists():
        return None
    state = json.loads(STATE_FILE.read_text())
    import requests

    try:
        requests.get(f"{state['url']}/_local/health", timeout=2).raise_for_status()
    except requests.RequestException:
        return None
    return state


def invoke(logical_id: str, event_path: str) -> int:
    """The Docker-free `sam local invoke`: against the running local stack, or an in-process moto."""
    from infra.local import FunctionHost
    from infra.template import load

    template = load()
    if logical_id not in template.functions:
        print(f"unknown function {logical_id}; the template has: {', '.join(sorted(template.functions))}",
              file=sys.stderr)
        return 2
    event = json.loads(Path(event_path).read_text())
    state = _running_stack()
    host = FunctionHost(template)
    if state is not None:
        os.environ.update(state["env"])
        from omo2c import wiring

        wiring.reset()
        result = host.invoke(logical_id, event)
    else:
        from infra.moto_stack import in_process

        with in_process(template):
            result = host.invoke(logical_id, event)
    print(json.dumps(result, ensure_ascii=False, indent=2, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omo2c", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="run the whole stack on 127.0.0.1 (no AWS, no Docker)")
    local.add_argument("--port", type=int, default=3000)
    local.add_argument("--journey", action="store_true", help="play the sample journey once ready")
    run = commands.add_parser("invoke", help="invoke one function's handler with a sample event")
    run.add_argument("function", help="the function's logical id in template.yaml")
    run.add_argument("--event", required=True, help="a JSON event file, e.g. events/ingest/sqs-ingest-batch.json")
    args = parser.parse_args(argv)
    if args.command == "local":
        from infra.local import serve

        return serve(args.port, args.journey)
    return invoke(args.function, args.event)


if __name__ == "__main__":
    sys.exit(main())
