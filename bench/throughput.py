"""The local run's own overhead: mixed events through HTTP, queue and pollers, against the same
events fed straight to the worker handler in-process (both on moto, measured in one run)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from typing import Any

import requests

from infra import moto_stack
from infra.local import free_port
from infra.template import ROOT

EVENTS = int(os.environ.get("BENCH_EVENTS", "2000"))
REDELIVERED = 0.3


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


def in_process(events: list[dict[str, Any]]) -> float:
    """The same events through the same consumers, called directly: worker, then attribute and notify."""
    from infra.local import FunctionHost

    with moto_stack.in_process(gateway_url="http://127.0.0.1:9") as stack:
        from omo2c.core.aws import client

        host = FunctionHost(stack.template)
        sqs = client("sqs")
        bodies = [json.dumps({**e, "source": "pos"}, ensure_ascii=False) for e in events]
        started = time.perf_counter()
        for start in range(0, len(bodies), 10):
            host.invoke("IngestWorkerFunction", _sqs(bodies[start:start + 10]))
        for function, queue in (("AttributeFunction", "AttributeQueue"), ("NotifyEventsFunction", "NotifyEventsQueue"),
                                ("SendWorkerFunction", "SendQueue")):
            url = stack.queue_url(queue)
            while True:
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
                if not got:
                    break
                host.invoke(function, _sqs([m["Body"] for m in got]))
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
        return len(events) / (time.perf_counter() - started)


def _sqs(bodies: list[str]) -> dict[str, Any]:
    from tests.support.aws import sqs_event

    return sqs_event(bodies)


def through_local_run(events: list[dict[str, Any]]) -> float:
    from omo2c.sources.signatures import omo_signature

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OMO_", "POWERTOOLS_"))}
    process = subprocess.Popen([sys.executable, "-m", "infra.cli", "local", "--port", str(port)], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "ready at" in line:
                break
        base = f"http://127.0.0.1:{port}"
        session = requests.Session()
        secret = moto_stack.LOCAL_SECRETS["OMO_SOURCE_SECRET_POS"]
        started = time.perf_counter()
        for batch in _deliveries(events, 100):
            body = json.dumps({"events": batch}, ensure_ascii=False).encode()
            ts = str(int(time.time()))
            response = session.post(f"{base}/webhooks/pos", data=body, timeout=60, headers={
                "X-Omo-Timestamp": ts, "X-Omo-Signature": omo_signature(secret, ts, body)})
            response.raise_for_status()
        while True:
            stats = session.get(f"{base}/_local/wiring", timeout=10).json()["stats"]["IngestQueue"]
            if stats["delivered"] >= len(events):
                return len(events) / (time.perf_counter() - started)
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=20)


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
    return {"local_events_per_second": round(local, 1), "in_process_events_per_second": round(direct, 1),
            "local_throughput_ratio": round(local / direct, 3), "local_throughput_events": len(events)}


if __name__ == "__main__":
    for key, value in measure().items():
        print(f"{key}: {value}")
