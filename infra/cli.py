"""The `omo2c` command: `omo2c local` runs the stack, `omo2c invoke` runs one handler; for `sam local invoke`
(where Docker exists) `omo2c env-json` writes events/env.json and `omo2c sign` re-signs a webhook sample;
`omo2c rebuild-kpis --month YYYY-MM` recomputes a month's dashboard figures from the stored orders;
`omo2c import FILE` loads history (canonical events as JSON lines, or a CSV of POS orders)."""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import socket
import sys
import time
from collections.abc import Mapping
from contextlib import closing
from pathlib import Path
from typing import Any

DEFAULT_AWS_PORT = 4566  # events/env.json names it, so `omo2c local` serves moto there unless told otherwise
DOCKER_HOST = "host.docker.internal"  # how a Lambda container (sam local invoke) reaches this machine


def aws_port(requested: int | None, default: int = DEFAULT_AWS_PORT) -> int:
    """The port asked for; else the fixed default, or (when something holds it) a free one, said on stderr."""
    if requested is not None:
        return requested
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds: TIME_WAIT is no holder
        try:
            probe.bind(("127.0.0.1", default))
            return default
        except OSError:
            pass
    from infra.local import free_port

    port = free_port()
    print(f"port {default} is taken, so AWS endpoints are on {port}: events/env.json names {default}; "
          f"use `omo2c env-json --aws-port {port}` for sam local invoke", file=sys.stderr)
    return port


def _names_a_resource(value: Any, resources: Mapping[str, Any]) -> bool:
    """Whether a template value depends on a resource (so it differs locally), not only on parameters."""
    if isinstance(value, list):
        return any(_names_a_resource(v, resources) for v in value)
    if not isinstance(value, dict):
        return False
    if "Ref" in value:
        return value["Ref"].removesuffix(".Alias") in resources
    if "Fn::GetAtt" in value:
        return True
    if "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        return any(token.split(".")[0] in resources for token in re.findall(r"\$\{([^}]+)\}", text))
    return any(_names_a_resource(v, resources) for v in value.values())


def sam_env(aws_endpoint: str, gateway_url: str, secrets: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """`sam local invoke --env-vars`: what points each function at a running `omo2c local`.

    Only what the local run decides is set (its endpoints, resource names and secrets), so every other
    variable keeps the template's value; "Parameters" holds what all functions share.
    """
    from infra.template import ACCOUNT, Names, load

    template = load()
    resources = template.raw["Resources"]
    names = Names(template, {queue: f"{aws_endpoint}/{ACCOUNT}/{queue}" for queue in template.queues})
    endpoints = {"AWS_ENDPOINT_URL": aws_endpoint, "OMO_LINE_API_ENDPOINT": f"{gateway_url}/_local/line",
                 "OMO_LINE_LOGIN_JWKS_URL": f"{gateway_url}/_local/line/oauth2/v2.1/certs"}
    per_function = {}
    for name, function in template.functions.items():
        variables = {}
        for key, value in function.environment.items():
            if key in endpoints:
                variables[key] = endpoints[key]
            elif key in secrets and value == "":
                variables[key] = secrets[key]
            elif _names_a_resource(value, resources):
                variables[key] = str(names.resolve(value))
        per_function[name] = variables
    shared = dict(set.intersection(*(set(v.items()) for v in per_function.values())))
    own = {name: {k: v for k, v in variables.items() if k not in shared} for name, variables in per_function.items()}
    return {"Parameters": dict(sorted(shared.items())), **{name: v for name, v in own.items() if v}}


def sign(event: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """A copy of a webhook sample signed with the local secret, as its sender would sign it now."""
    from infra.moto_stack import LOCAL_SECRETS
    from infra.template import Names, load
    from omo2c.core.secrets import env_name
    from omo2c.core.settings import Settings
    from omo2c.sources.signatures import body_signature, omo_signature

    def secret(name: str) -> str:
        value = os.environ.get(env_name(name)) or LOCAL_SECRETS.get(env_name(name))
        if not value:
            raise ValueError(f"no local secret {env_name(name)}: set it in the environment")
        return value

    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    route = event.get("routeKey")
    if route == "POST /line/webhook":  # LINE signs like Shopify: base64 HMAC-SHA256 of the body
        headers["x-line-signature"] = body_signature(secret("line-channel-secret"), body)
    elif route == "POST /webhooks/{source}":
        source = (event.get("pathParameters") or {}).get("source", "")
        configured = os.environ.get("OMO_WEBHOOK_SOURCES") or Names(load()).parameters["WebhookSources"]
        kind = Settings.from_env({"OMO_WEBHOOK_SOURCES": configured}).webhook_sources.get(source)
        if kind is None:
            raise ValueError(f"source {source!r} is not configured (WebhookSources: {configured})")
        if kind == "shopify":
            headers["x-shopify-hmac-sha256"] = body_signature(secret(f"source-secret/{source}"), body)
        else:
            timestamp = str(int(time.time() if now is None else now))
            headers["x-omo-timestamp"] = timestamp
            headers["x-omo-signature"] = omo_signature(secret(f"source-secret/{source}"), timestamp, body)
    else:
        raise ValueError(f"{route!r} is not a webhook route: only POST /webhooks/{{source}} and POST /line/webhook "
                         "are signed")
    return {**event, "headers": headers}


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


def rebuild_kpis(month: str, stack: str | None = None) -> int:
    """`omo2c rebuild-kpis`: against the deployed stack named, else the running `omo2c local`, else the tables the
    environment names (OMO_MEMBERS_TABLE, AWS_REGION and the usual AWS credentials)."""
    if stack is not None:
        import boto3

        resource = boto3.client("cloudformation").describe_stack_resource(StackName=stack,
                                                                         LogicalResourceId="MembersTable")
        os.environ["OMO_MEMBERS_TABLE"] = resource["StackResourceDetail"]["PhysicalResourceId"]
    elif (state := _running_stack()) is not None:
        os.environ.update(state["env"])
    from omo2c import wiring
    from omo2c.core.errors import InvalidEvent

    wiring.reset()
    try:
        summary = wiring.production().dashboards.rebuild(month)
    except InvalidEvent as exc:
        print(f"cannot rebuild {month!r}: {exc.message}", file=sys.stderr)
        return 2
    print(json.dumps(summary, ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="omo2c", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="run the whole stack on 127.0.0.1 (no AWS, no Docker)")
    local.add_argument("--port", type=int, default=3000)
    local.add_argument("--journey", action="store_true", help="play the sample journey once ready")
    local.add_argument("--data-dir", type=Path, default=None, metavar="DIR",
                       help="keep tables and schedules in DIR across restarts (default: in memory only)")
    local.add_argument("--aws-port", type=int, default=None,
                       help=f"moto's port (default {DEFAULT_AWS_PORT}, the one events/env.json names; "
                            "a free one when that is taken)")
    local.add_argument("--host", default="127.0.0.1",
                       help="address to listen on; 0.0.0.0 lets Docker containers reach the run "
                            "(sam local invoke on Linux), and so anyone on your network")
    run = commands.add_parser("invoke", help="invoke one function's handler with a sample event")
    run.add_argument("function", help="the function's logical id in template.yaml")
    run.add_argument("--event", required=True, help="a JSON event file, e.g. events/ingest/sqs-ingest-batch.json")
    signer = commands.add_parser("sign", help="re-sign a webhook sample with the local secret (fresh timestamp)")
    signer.add_argument("event", help="an HTTP API event, e.g. events/ingest/http-post-webhook-pos.json")
    signer.add_argument("-o", "--output", type=Path, help="write the signed event here instead of printing it")
    env_json = commands.add_parser("env-json", help="print events/env.json: sam local invoke against omo2c local")
    env_json.add_argument("--aws-port", type=int, default=DEFAULT_AWS_PORT)
    env_json.add_argument("--port", type=int, default=3000, help="the local run's gateway port")
    env_json.add_argument("--docker-host", default=DOCKER_HOST, help="this machine's name inside a container")
    kpis = commands.add_parser(
        "rebuild-kpis", help="recompute one month's POS sales and spend histograms of the store and staff "
                             "dashboards from the stored orders (an operator's command: it Scans the members table, "
                             "filtered to that month's orders; dashboards themselves never scan)")
    kpis.add_argument("--month", required=True, help="YYYY-MM, in the deployment's time zone (OMO_TIME_ZONE)")
    kpis.add_argument("--stack", default=None, help="a deployed stack's name (its MembersTable); default: the "
                                                    "running `omo2c local`, else the environment's OMO_MEMBERS_TABLE")
    from infra.importer import add_arguments as import_arguments

    import_arguments(commands.add_parser(
        "import", help="load history into the running `omo2c local` or a deployed stack: canonical events as JSON "
                       "lines, or a CSV of POS orders; in batches, resumable, idempotent by event id",
        description="Load history: every line is validated first, then sent in batches through the signed webhook "
                    "(or straight into the ingest queue), with a progress bar on stderr and a summary on stdout."))
    args = parser.parse_args(argv)
    if args.command == "import":
        from infra.importer import main as import_main

        return import_main(args)
    if args.command == "local":
        from infra.local import serve

        return serve(args.port, args.journey, data_dir=args.data_dir, aws_port=aws_port(args.aws_port),
                     host=args.host)
    if args.command == "sign":
        try:
            signed = json.dumps(sign(json.loads(Path(args.event).read_text())), ensure_ascii=False, indent=2)
        except ValueError as exc:
            print(f"cannot sign {args.event}: {exc}", file=sys.stderr)
            return 2
        if args.output:
            args.output.write_text(signed + "\n")
        else:
            print(signed)
        return 0
    if args.command == "env-json":
        from infra.moto_stack import LOCAL_SECRETS

        secrets = {key: os.environ.get(key, default) for key, default in LOCAL_SECRETS.items()}
        base = f"http://{args.docker_host}"
        print(json.dumps(sam_env(f"{base}:{args.aws_port}", f"{base}:{args.port}", secrets), indent=2))
        return 0
    if args.command == "rebuild-kpis":
        return rebuild_kpis(args.month, args.stack)
    return invoke(args.function, args.event)


if __name__ == "__main__":
    sys.exit(main())
