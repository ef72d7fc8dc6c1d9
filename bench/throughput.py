"""The local run's own overhead: mixed events through HTTP, queues and pollers, against the same events
fed to the same consumers in-process (both on moto, measured in one run), at ``BENCH_EVENTS`` events.

Through the local run: ``omo2c local`` is started, every event is posted to the signed POS webhook in
deliveries of up to 100 (a redelivered event in a later delivery, as a source would send it), all at once,
and the clock stops when the whole pipeline has drained: the ingest queue and every queue the bus feeds
are empty with nothing in flight, twice in a row with no delivery in between (``GET /_local/wiring``).
``local_events_per_second`` is the events over that time.

In-process: the same events through the same consumers, called directly with SQS batches of 10: the ingest
worker, then each queue the bus fed, drained in the order events flow (a consumer's own events reach the
queues after it), until every one is empty. ``in_process_events_per_second`` is the events over that time.

What bounds both: per event, the in-process run's AWS requests (``in_process_aws_calls_per_event``), the time
they took from botocore's call to its parsed answer (``in_process_aws_ms_per_event``) and moto's own answer
alone (``in_process_moto_ms_per_event``). ``aws_floor_events_per_second`` (1000 over the first) is the most
one core could deliver with those requests if the handlers, the queues' plumbing and everything else cost
nothing; ``moto_floor_events_per_second`` the same for moto's answers alone (were botocore free too). The
local run holds moto and every handler in one interpreter (one core, under the GIL), so neither can be beaten
there without fewer requests per event or a cheaper moto.

Per-event time of the local run, from first to last: the pipeline's progress is its deliveries so far (to
every consumer) as a share of all it made, in events; ``local_ms_per_event.first_1000`` is the time the
first 1,000 events of progress took (from the first post), ``local_ms_per_event.last_1000`` the last 1,000
(to the drained pipeline), and ``local_per_event_growth`` their ratio (1: no slower at the end than at the
start, however long the queues were).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from bisect import bisect_left
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from infra import moto_stack
from infra.local import free_port
from infra.template import ROOT, Template

EVENTS = int(os.environ.get("BENCH_EVENTS", "20000"))
REDELIVERED = 0.3
WINDOW = 1000
SAMPLE_SECONDS = 0.1
DRAIN_TIMEOUT_SECONDS = 3600
# Quiet hours would hold the sends back until morning and the pipeline would not drain: none, at any hour.
RULES = {"OMO_QUIET_HOURS": "[]"}


def mixed_events(count: int, seed: int = 5) -> list[dict[str, Any]]:
    """POS and EC orders, updates, refunds and member upserts over a pool of customers; 30% redelivered."""
    from tests.support.events import pos_order

    rnd = random.Random(seed)
    events = []
    for n in range(int(count * (1 - REDELIVERED))):
        customer = rnd.randrange(max(10, count // 5))
        kind = rnd.choices(["order.created", "order.updated", "order.refunded", "member.upserted"], [6, 1, 1, 2])[0]
        order_id = f"T{customer}-{n // 3}"
        event = pos_order(f"tp-{n}", phone=f"0966{customer:06d}", order_id=order_id, total=rnd.randint(100, 3000),
                          type_=kind if kind != "member.upserted" else "order.created")
        if kind == "order.refunded":
            event["order"]["refunds"] = [{"refund_id": f"R{n}", "amount": 50}]
        if kind == "member.upserted":
            event["type"] = "member.upserted"
            event.pop("order")
        event["channel"] = rnd.choice(["pos", "ec"])
        events.append(event)
    events += [rnd.choice(events) for _ in range(count - len(events))]
    rnd.shuffle(events)
    return events


def flow_order(template: Template) -> list[tuple[str, str]]:
    """(consumer, queue) for every queue a function polls, the ingest worker's first, then each queue after
    the queues whose consumers publish to it: bus-fed queues in the order events reach them."""
    polled = [(function.logical_id, source.queue) for function in template.functions.values()
              for source in function.queues]
    ingest = [pair for pair in polled if pair[1] == "IngestQueue"]
    rest = sorted((pair for pair in polled if pair[1] != "IngestQueue"), key=lambda pair: _depth(template, pair[1]))
    return ingest + rest


def _depth(template: Template, queue: str) -> int:
    """The most consumer hops from the ingest worker the bus's rules put ``queue`` (drained after every queue
    that feeds it): a rule feeds its queues from the consumers whose area (``omo2c.<area>``, the function's
    code directory) its pattern names. Queues no rule feeds from a consumer come last."""
    area = {source.queue: f"omo2c.{Path(function.code_uri).name}" for function in template.functions.values()
            for source in function.queues}
    depth = {"IngestQueue": 0}
    for _ in range(len(template.queues)):
        for rule in template.rules.values():
            wanted = set(rule.pattern.get("source", []))
            feeders = [depth[q] for q, speaker in area.items() if q in depth and speaker in wanted]
            for target in rule.target_queues:
                if feeders and target != "IngestQueue":
                    depth[target] = min(len(template.queues) - 1, max(depth.get(target, 0), max(feeders) + 1))
    return depth.get(queue, len(template.queues))


def in_process(events: list[dict[str, Any]]) -> dict[str, float]:
    """The same events through the same consumers, called directly: the ingest worker, then every queue the
    bus feeds, in the order events flow, until all are empty. Events per second (``events_per_second``), and
    per event the AWS requests made (``aws_calls``), the milliseconds they took (``aws_ms``: botocore and
    moto's answer) and moto's answer alone (``moto_ms``)."""
    from bench.counting import timing
    from infra.local import FunctionHost

    with moto_stack.in_process(gateway_url="http://127.0.0.1:9", rules=RULES) as stack:
        from omo2c.core.aws import client

        host = FunctionHost(stack.template)
        sqs = client("sqs")
        bodies = [json.dumps({**e, "source": "pos"}, ensure_ascii=False) for e in events]
        order = [pair for pair in flow_order(stack.template) if pair[1] != "IngestQueue"]
        with timing() as aws:
            started = time.perf_counter()
            for start in range(0, len(bodies), 10):
                host.invoke("IngestWorkerFunction", _sqs(bodies[start:start + 10]))
            while any([_drain(host, sqs, stack.queue_url(queue), function) for function, queue in order]):
                pass  # a later consumer published to an earlier queue: go round again
            elapsed = time.perf_counter() - started
        return {"events_per_second": len(events) / elapsed, "aws_calls": aws.calls / len(events),
                "aws_ms": aws.seconds * 1000 / len(events), "moto_ms": aws.moto_seconds * 1000 / len(events),
                "ms": elapsed * 1000 / len(events)}


def _drain(host: Any, sqs: Any, url: str, function: str) -> int:
    """Feed ``url`` to ``function`` in batches of 10 until it is empty; how many messages it took."""
    taken = 0
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        result = host.invoke(function, _sqs([m["Body"] for m in got]))
        failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
        done = [m for i, m in enumerate(got) if f"m-{i}" not in failed]
        if done:
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        taken += len(got)
    return taken


def _sqs(bodies: list[str]) -> dict[str, Any]:
    from tests.support.aws import sqs_event

    return sqs_event(bodies)


class Progress:
    """Samples ``/_local/wiring`` while the pipeline runs: (seconds since start, deliveries so far)."""

    def __init__(self, get: Callable[[], dict[str, Any]], started: float) -> None:
        self.get, self.started = get, started
        self.samples: list[tuple[float, int]] = [(0.0, 0)]
        self.stats: dict[str, Any] = {}

    def sample(self) -> dict[str, Any]:
        self.stats = self.get()["stats"]
        done = sum(s["delivered"] + s["failed"] for s in self.stats.values())
        self.samples.append((time.perf_counter() - self.started, done))
        return self.stats

    def drained(self) -> bool:
        """Every polled queue empty with nothing in flight, and no delivery since the last look."""
        stats = self.sample()
        quiet = all(s["visible"] == s["in_flight"] == s["delayed"] == 0 for s in stats.values())
        return quiet and len(self.samples) > 2 and self.samples[-1][1] == self.samples[-2][1]


def per_event_ms(samples: list[tuple[float, int]], events: int, window: int = WINDOW) -> tuple[float, float]:
    """Milliseconds per event for the first and the last ``window`` events of progress, progress being the
    deliveries so far as a share of all of them (at the last sample), counted in events."""
    total_time, total = samples[-1]
    if total == 0 or events < window:
        return 0.0, 0.0
    times = [t for t, _ in samples]
    progress = [done * events / total for _, done in samples]

    def when(events_done: float) -> float:
        i = bisect_left(progress, events_done)
        if i == 0:
            return times[0]
        (t0, p0), (t1, p1) = (times[i - 1], progress[i - 1]), (times[i], progress[i])
        return t0 + (t1 - t0) * ((events_done - p0) / (p1 - p0) if p1 > p0 else 1.0)

    first = when(window) * 1000 / window
    last = (total_time - when(events - window)) * 1000 / window
    return first, last


def through_local_run(events: list[dict[str, Any]]) -> dict[str, float]:
    from omo2c.sources.signatures import omo_signature

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OMO_", "POWERTOOLS_"))} | RULES
    process = subprocess.Popen([sys.executable, "-m", "infra.cli", "local", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "ready at" in line:
                break
        threading.Thread(target=_discard, args=(process.stdout,), daemon=True).start()
        base = f"http://127.0.0.1:{port}"
        session, watcher = requests.Session(), requests.Session()
        secret = moto_stack.LOCAL_SECRETS["OMO_SOURCE_SECRET_POS"]
        started = time.perf_counter()
        progress = Progress(lambda: watcher.get(f"{base}/_local/wiring", timeout=60).json(), started)
        for batch in _deliveries(events, 100):
            body = json.dumps({"events": batch}, ensure_ascii=False).encode()
            ts = str(int(time.time()))
            response = session.post(f"{base}/webhooks/pos", data=body, timeout=60, headers={
                "X-Omo-Timestamp": ts, "X-Omo-Signature": omo_signature(secret, ts, body)})
            response.raise_for_status()
        posted = time.perf_counter() - started
        while not progress.drained():
            if time.perf_counter() - started > DRAIN_TIMEOUT_SECONDS:
                raise TimeoutError(f"the pipeline did not drain: {progress.stats}")
            time.sleep(SAMPLE_SECONDS)
        elapsed = progress.samples[-1][0]
        delivered = progress.stats["IngestQueue"]["delivered"]
        if delivered < len(events):
            raise AssertionError(f"only {delivered} of {len(events)} events reached the ingest worker")
        first, last = per_event_ms(progress.samples, len(events))
        return {"events_per_second": len(events) / elapsed, "first": first, "last": last, "posted": posted,
                "failed": sum(s["failed"] for s in progress.stats.values())}
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:  # the figures are taken: a slow exit must not lose them
            process.kill()
            process.wait()


def _discard(stream: Any) -> None:
    for _ in stream:  # the run's log must not fill the pipe and stall it
        pass


def _deliveries(events: list[dict[str, Any]], size: int) -> list[list[dict[str, Any]]]:
    """Batches of up to ``size``; a redelivered event goes out in a later delivery, as a source would."""
    batches: list[list[dict[str, Any]]] = [[]]
    ids: set[str] = set()
    for event in events:
        if len(batches[-1]) == size or event["event_id"] in ids:
            batches.append([])
            ids = set()
        batches[-1].append(event)
        ids.add(event["event_id"])
    return batches


def measure() -> dict[str, float]:
    events = mixed_events(EVENTS)
    local = through_local_run(events)
    direct = in_process(events)
    first, last = local["first"], local["last"]
    return {"local_events_per_second": round(local["events_per_second"], 1),
            "in_process_events_per_second": round(direct["events_per_second"], 1),
            "local_throughput_ratio": round(local["events_per_second"] / direct["events_per_second"], 3),
            "in_process_ms_per_event": round(direct["ms"], 2),
            "in_process_aws_calls_per_event": round(direct["aws_calls"], 2),
            "in_process_aws_ms_per_event": round(direct["aws_ms"], 2),
            "in_process_moto_ms_per_event": round(direct["moto_ms"], 2),
            "aws_floor_events_per_second": round(1000 / direct["aws_ms"], 1) if direct["aws_ms"] else 0.0,
            "moto_floor_events_per_second": round(1000 / direct["moto_ms"], 1) if direct["moto_ms"] else 0.0,
            "local_throughput_events": len(events),
            "local_ms_per_event.first_1000": round(first, 2), "local_ms_per_event.last_1000": round(last, 2),
            "local_per_event_growth": round(last / first, 3) if first else 0.0,
            "local_post_seconds": round(local["posted"], 1), "local_failed_deliveries": local["failed"]}


if __name__ == "__main__":
    for key, value in measure().items():
        print(f"{key}: {value}")
