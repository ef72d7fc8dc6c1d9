"""Cold start: handler import + first event, in fresh processes against a local AWS endpoint, ÷ `import boto3`.

One moto server (every resource of template.yaml, as the local run creates them) serves the whole run.
For each function and each of :data:`PAIRS` pair indexes, two fresh processes run back to back on the
functions' runtime (python3.12 when it is installed, else this interpreter; ``cold_start.python`` says
which): the *baseline* times ``import boto3`` alone; the *function* process times the handler's import,
its first event and a second event (samples from events/, unique ids per event, webhooks signed as their
sender would sign them; the environment and local secrets are those of the local run). Only the standard
library is loaded before a timer starts. Each pair gives a ratio (import + first event) / boto3; reported
per function are its min and median over the pairs, the import-only ratio (median), and the second
event's median milliseconds (what a warm invocation costs here, against moto on the same machine).

With SnapStart (``*_snapstart``): the function process also runs the before-snapshot hooks after the
import, untimed (that is snapshot time), and the first event after them is timed as the restored
environment's first invocation: ``first_event_extra_ms.<name>_snapstart`` is that first event minus the
second, i.e. what a restore still builds on its first event.

``library_floor_ratio.<intake|consumer|line_webhook>`` pairs the same baseline with the libraries alone
(:data:`FLOORS`): how much of a ratio no project code can remove on this stack. The LINE webhook's is the
intake's plus Powertools' idempotency utility and the DynamoDB and EventBridge clients its first event builds.

Targets (issue "cold start stops at the import"): without SnapStart, import + first event ≤ 2× `import boto3`
for the intake (ingest), the ingest worker and attribution, ≤ 3× for the LINE webhook (bind).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from infra.template import ROOT, load

PAIRS = int(os.environ.get("BENCH_COLD_PAIRS", "10"))
FUNCTIONS = {  # name: (logical id, event sample)
    "ingest": ("IngestApiFunction", "events/ingest/http-post-webhook-pos.json"),
    "ingest_worker": ("IngestWorkerFunction", "events/ingest/sqs-ingest-batch.json"),
    "attribute": ("AttributeFunction", "events/attribute/sqs-order-events-batch.json"),
    "bind": ("LineWebhookFunction", "events/bind/http-post-line-webhook.json"),
    "notify": ("SendWorkerFunction", "events/notify/sqs-send-batch.json"),  # information only
}
TARGETS = {"ingest": 2.0, "ingest_worker": 2.0, "attribute": 2.0, "bind": 3.0}
UNIQUE_KEYS = ("event_id", "order_id", "job_id", "webhookEventId", "messageId")

BASELINE = """
import time
t0 = time.perf_counter()
import boto3
print(int((time.perf_counter() - t0) * 1e6))
"""

FLOOR = """
import time
t0 = time.perf_counter()
import aws_lambda_powertools.logging, aws_lambda_powertools.metrics, {powertools}
import pydantic
class Model(pydantic.BaseModel):
    name: str
    count: int = 0
import boto3{storage}
session = boto3.session.Session()
{clients}
print(int((time.perf_counter() - t0) * 1e6))
"""


def _floor(powertools: str, clients: tuple[str, ...], pynamodb: bool = True) -> str:
    return FLOOR.format(powertools=powertools, storage=", pynamodb.models" if pynamodb else "",
                        clients="; ".join(f"session.client({name!r})" for name in clients))


# The libraries alone, no project code: what an intake, a queue consumer and the LINE webhook cannot avoid on
# this stack (Powertools, one pydantic model, boto3/pynamodb and the clients their first event builds, no request).
FLOORS = {
    "intake": _floor("aws_lambda_powertools.event_handler", ("sqs",), pynamodb=False),
    "consumer": _floor("aws_lambda_powertools.utilities.batch", ("events", "dynamodb")),
    "line_webhook": _floor("aws_lambda_powertools.event_handler, aws_lambda_powertools.utilities.idempotency",
                           ("dynamodb", "events")),
}

# Nothing but the standard library before the first timer; the handler is loaded the way Lambda loads it.
PROBE = """
import importlib, json, sys, time
spec = json.loads(sys.argv[1])
events = json.loads(open(spec["events"]).read())

class Context:
    function_name = spec["function"]; function_version = "$LATEST"; memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:ap-northeast-1:123456789012:function:" + spec["function"]
    log_group_name = "/aws/lambda/" + spec["function"]; log_stream_name = "local"
    def __init__(self, n): self.aws_request_id = "bench-%d" % n
    def get_remaining_time_in_millis(self): return 30000

sys.path.insert(0, spec["path"])
t0 = time.perf_counter()
module = importlib.import_module(spec["module"])
t1 = time.perf_counter()
if spec["snapstart"]:
    from snapshot_restore_py import get_before_snapshot
    for hook, args, kwargs in get_before_snapshot():
        hook(*args, **kwargs)
handler = getattr(module, spec["handler"])
times, failures = [], []
for n, event in enumerate(events):
    start = time.perf_counter()
    result = handler(event, Context(n))
    times.append(time.perf_counter() - start)
    if isinstance(result, dict) and (result.get("batchItemFailures") or int(result.get("statusCode", 200)) >= 300):
        failures.append(str(result)[:300])
print(json.dumps({"import_us": int((t1 - t0) * 1e6), "events_us": [int(t * 1e6) for t in times],
                  "failures": failures, "linebot": "linebot" in sys.modules}))
"""


def runtime_python() -> list[str]:
    """The functions' runtime (template: python3.12): a 3.12 venv with the project installed, else this one."""
    for candidate in (ROOT / ".venv312/bin/python", Path("/tmp/venv312/bin/python")):
        if candidate.exists():
            return [str(candidate)]
    return [sys.executable]


def _uniquify(value: Any, tag: str) -> Any:
    if isinstance(value, dict):
        return {k: (f"{v}{tag}" if k in UNIQUE_KEYS and isinstance(v, str) else _uniquify(v, tag))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_uniquify(v, tag) for v in value]
    return value


def event_copy(sample: dict[str, Any], tag: str) -> dict[str, Any]:
    """The sample with every id made unique by ``tag`` (no run is a redelivery of an earlier one), signed."""
    from infra.cli import sign

    event = json.loads(json.dumps(sample))
    if "Records" in event:
        for record in event["Records"]:
            record["messageId"] = f"{record.get('messageId', 'm')}{tag}"
            record["body"] = json.dumps(_uniquify(json.loads(record["body"]), tag), ensure_ascii=False)
        return event
    event["body"] = json.dumps(_uniquify(json.loads(event["body"]), tag), ensure_ascii=False)
    event["requestContext"] = {**event.get("requestContext", {}), "requestId": str(uuid.uuid4())}
    return sign(event)


def _run(python: list[str], code: str, args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run([*python, "-c", code, *args], capture_output=True, text=True, cwd=ROOT, env=env,
                            timeout=120)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-1500:])
    return result.stdout.strip().splitlines()[-1]


def _stack() -> tuple[Any, dict[str, str]]:
    """A moto server with the template's resources; the handlers' environment pointing at it."""
    import logging

    from moto.server import ThreadedMotoServer

    from infra.local import free_port
    from infra.moto_stack import provision
    from infra.template import Names

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = dict(os.environ)
    try:
        env = provision(Names(load()), f"http://127.0.0.1:{port}")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return server, env


def measure(pairs: int = PAIRS, snapstart: bool = True, only: tuple[str, ...] = ()) -> dict[str, Any]:
    python = runtime_python()
    functions = {name: v for name, v in FUNCTIONS.items() if not only or name in only}
    template = load()
    server, stack_env = _stack()
    workdir = Path(tempfile.mkdtemp(prefix="cold_start_"))
    base_env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "PYTHONDONTWRITEBYTECODE": "",
                "AWS_DEFAULT_REGION": "ap-northeast-1",
                **({"PYTHONPATH": os.environ["PYTHONPATH"]} if os.environ.get("PYTHONPATH") else {})}
    modes = [False, True] if snapstart else [False]
    runs: dict[tuple[str, bool], list[dict[str, Any]]] = {}
    floors: dict[str, list[float]] = {}
    try:
        env_for = {}
        for name, (logical_id, _) in functions.items():
            function = template.functions[logical_id]
            env_for[name] = {**base_env, **stack_env, **{k: v for k, v in function.environment.items()
                                                          if k not in stack_env and isinstance(v, str)}}
        template_env = env_for[next(iter(functions))]
        floor_env = {**base_env, **{k: v for k, v in template_env.items() if k.startswith("PYDANTIC")}}
        # warm the byte-code caches once (a deployed package ships them), so pair 0 is not a compile run
        _run(python, BASELINE, [], base_env)
        for pair in range(pairs):
            for name, (logical_id, sample_path) in functions.items():
                function = template.functions[logical_id]
                sample = json.loads((ROOT / sample_path).read_text())
                for snap in modes:
                    tag = f"-b{uuid.uuid4().hex[:8]}"
                    events_file = workdir / f"{name}-{pair}-{int(snap)}.json"
                    events_file.write_text(json.dumps([event_copy(sample, f"{tag}1"), event_copy(sample, f"{tag}2")],
                                                      ensure_ascii=False))
                    spec = {"path": str(function.module_path.parent), "module": function.module_path.stem,
                            "handler": function.handler.rpartition(".")[2], "function": logical_id,
                            "events": str(events_file), "snapstart": snap}
                    boto3_us = int(_run(python, BASELINE, [], base_env))  # the baseline, then its pair right after
                    probe = json.loads(_run(python, PROBE, [json.dumps(spec)], env_for[name]))
                    runs.setdefault((name, snap), []).append({"boto3_us": boto3_us, **probe})
            for name, code in FLOORS.items():
                boto3_us = int(_run(python, BASELINE, [], base_env))
                floors.setdefault(name, []).append(int(_run(python, code, [], floor_env)) / boto3_us)
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    results = summarize(runs, python)
    for name, ratios in floors.items():
        results[f"cold_start_library_floor_ratio.{name}.min"] = round(min(ratios), 2)
        results[f"cold_start_library_floor_ratio.{name}.median"] = round(statistics.median(ratios), 2)
    return results


def summarize(runs: dict[tuple[str, bool], list[dict[str, Any]]], python: list[str]) -> dict[str, Any]:
    version = subprocess.run([*python, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    results: dict[str, Any] = {"cold_start.python": version}
    baselines = [r["boto3_us"] for rs in runs.values() for r in rs]
    results["cold_start.boto3_import_ms"] = round(statistics.median(baselines) / 1000, 1)
    results["cold_start.pairs"] = min(len(rs) for rs in runs.values())
    for (name, snap), rs in runs.items():
        key = f"{name}_snapstart" if snap else name
        first = [(r["import_us"] + r["events_us"][0]) / r["boto3_us"] for r in rs]
        second_ms = [r["events_us"][1] / 1000 for r in rs]
        extra_ms = [(r["events_us"][0] - r["events_us"][1]) / 1000 for r in rs]
        if snap:
            results[f"cold_start_first_event_extra_ms.{key}"] = round(statistics.median(extra_ms), 1)
            results[f"cold_start_first_event_ms.{key}"] = round(statistics.median(r["events_us"][0] / 1000
                                                                                  for r in rs), 1)
        else:
            results[f"cold_start_ratio.{name}"] = round(statistics.median(r["import_us"] / r["boto3_us"]
                                                                          for r in rs), 2)
            results[f"cold_start_first_event_ratio.{name}.min"] = round(min(first), 2)
            results[f"cold_start_first_event_ratio.{name}.median"] = round(statistics.median(first), 2)
            results[f"cold_start_first_event_extra_ms.{name}"] = round(statistics.median(extra_ms), 1)
            results[f"line_sdk_imported.{name}"] = rs[0]["linebot"]
        results[f"cold_start_second_event_ms.{key}"] = round(statistics.median(second_ms), 1)
        failures = sorted({f for r in rs for f in r["failures"]})
        if failures:
            results[f"cold_start_failures.{key}"] = failures[0]
    return results


def verdicts(results: dict[str, Any]) -> list[str]:
    lines = []
    for name, target in TARGETS.items():
        median = results.get(f"cold_start_first_event_ratio.{name}.median")
        if median is not None:
            lines.append(f"{name}: median {median} / min {results[f'cold_start_first_event_ratio.{name}.min']} "
                         f"vs ≤ {target}: {'met' if median <= target else f'missed by {median - target:.2f}'}")
    return lines


if __name__ == "__main__":
    measured = measure(int(sys.argv[1]) if len(sys.argv) > 1 else PAIRS, only=tuple(sys.argv[2:]))
    for key, value in measured.items():
        print(f"{key}: {value}")
    for line in verdicts(measured):
        print(line)
