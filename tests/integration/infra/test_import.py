"""`omo2c import` end to end against moto: through the real signed webhook handler behind a small HTTP
gateway, or straight into the ingest queue; interrupted, resumed, re-sent, and the tables stay exact."""

from __future__ import annotations

import csv
import json
import threading
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.cli import main
from infra.local import FunctionHost, _json, _match, free_port, http_api_event, to_response
from infra.template import load
from tests.support.aws import drain_queue, http_event, load_handler

ORDERS = 50
CUSTOMERS = 17


class Gateway:
    """``POST /webhooks/{source}`` on 127.0.0.1, served by IngestApiFunction; ``fail`` picks requests to answer 503."""

    def __init__(self) -> None:
        from werkzeug.serving import make_server
        from werkzeug.wrappers import Request

        template = load()
        self.host = FunctionHost(template)
        self.route = next(r for r in template.routes if r.key == "POST /webhooks/{source}")
        self.requests = 0
        self.accepted: Counter[str] = Counter()
        self.fail = lambda n: False
        self.lock = threading.Lock()

        def app(environ: dict[str, Any], start_response: Any) -> Any:
            request = Request(environ)
            params = _match(self.route, request.method, request.path)
            with self.lock:
                self.requests += 1
                number = self.requests
            if params is None:
                response = _json(404, {"message": "Not Found"})
            elif self.fail(number):
                response = _json(503, {"message": "Service Unavailable"})
            else:
                result = self.host.invoke("IngestApiFunction", http_api_event(request, self.route, params))
                if result["statusCode"] == 202:
                    with self.lock:
                        self.accepted.update(json.loads(result["body"])["accepted"])
                response = to_response(result)
            return response(environ, start_response)

        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def gateway(aws, monkeypatch, tmp_path) -> Iterator[Gateway]:
    monkeypatch.chdir(tmp_path)  # no local run's state file is picked up
    served = Gateway()
    yield served
    served.close()


def pos_export(path: Path, orders: int = ORDERS, customers: int = CUSTOMERS) -> dict[str, dict[str, Any]]:
    """A POS export of ``orders`` orders by ``customers`` customers (1 to 3 rows each); what each customer bought."""
    expected: dict[str, dict[str, Any]] = {}
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["order_id", "occurred_at", "store_id", "staff_id", "phone", "name", "consent_sms",
                         "discount", "item_sku", "item_name", "item_quantity", "item_price"])
        for n in range(orders):
            customer = n % customers
            phone = f"0933{100000 + customer * 37:06d}"
            lines = [(f"SKU-{(n + k) % 7}", 1 + k, Decimal(100 * (1 + (n + k) % 5))) for k in range(1 + n % 3)]
            discount = Decimal(10 * (n % 2))
            for k, (sku, quantity, price) in enumerate(lines):
                head = k == 0
                writer.writerow([f"ST01-{n:04d}", f"2026-{1 + n % 9:02d}-{1 + n % 28:02d} 1{n % 10}:00" if head else "",
                                 "ST01" if head else "", f"S00{1 + n % 3}" if head else "", phone if head else "",
                                 f"客人{customer}" if head else "", "yes" if head else "",
                                 str(discount) if head else "", sku, f"品項 {sku}", quantity, str(price)])
            member = expected.setdefault(phone, {"count": 0, "net": Decimal(0)})
            member["count"] += 1
            member["net"] += sum(q * p for _, q, p in lines) - discount
    return expected


def table_items(aws: dict[str, Any]) -> list[dict[str, Any]]:
    table = aws["stack"].env["OMO_MEMBERS_TABLE"]
    items, kwargs = [], {}
    while True:
        page = aws["dynamodb"].scan(TableName=table, **kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def queued(aws: dict[str, Any]) -> int:
    attrs = aws["sqs"].get_queue_attributes(QueueUrl=aws["ingest_url"], AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def record_all(aws: dict[str, Any], lambda_context: Any) -> int:
    return drain_queue(aws["sqs"], aws["ingest_url"], load_handler("IngestWorkerFunction"), lambda_context, None)


def assert_exact(aws: dict[str, Any], lambda_context: Any, expected: dict[str, dict[str, Any]]) -> None:
    """One order item and one event marker per order, one live member per customer, each with its own orders."""
    orders_made = sum(m["count"] for m in expected.values())
    items = table_items(aws)
    orders = [i for i in items if i["pk"]["S"].startswith("ORDER#") and i["sk"]["S"] == "ORDER"]
    assert len(orders) == orders_made and len({i["pk"]["S"] for i in orders}) == orders_made
    assert len([i for i in items if i["pk"]["S"].startswith("EVENT#pos#")]) == orders_made
    live = [i for i in items if i["sk"]["S"] == "PROFILE" and i["pk"]["S"].startswith("MEMBER#")
            and i.get("status", {}).get("S", "live") == "live"]
    assert len(live) == len(expected)
    members_api = load_handler("MembersApiFunction")
    for phone, want in expected.items():
        answer = members_api.lambda_handler(http_event("GET", "/members", route="/members", query={"phone": phone}),
                                            lambda_context)
        assert answer["statusCode"] == 200, phone
        orders_summary = json.loads(answer["body"])["orders"]
        assert (orders_summary["count"], Decimal(orders_summary["net_spent"])) == (want["count"], want["net"]), phone


def run_import(*args: str) -> tuple[int, dict[str, Any]]:
    import io
    from contextlib import redirect_stdout

    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["import", *args, "--quiet"])
    return code, json.loads(out.getvalue().strip().splitlines()[-1])


def test_an_interrupted_webhook_import_resumes_and_records_every_order_once(gateway, aws, lambda_context, tmp_path,
                                                                            capsys):
    export = tmp_path / "orders.csv"
    expected = pos_export(export)
    gateway.fail = lambda n: n > 2  # the stack goes away after two deliveries of ten
    code, summary = run_import(str(export), "--url", gateway.url, "--batch-size", "10", "--concurrency", "1",
                               "--retries", "0")
    assert code == 3
    assert (summary["acknowledged"], summary["complete"]) == (20, False)
    assert "Run the same command again to send the rest" in capsys.readouterr().err
    state = json.loads((tmp_path / "orders.csv.import-state.json").read_text())
    assert state["events_done"] == 20 and state["lines_done"] > 20  # multi-row orders: lines run ahead of events
    assert queued(aws) == 20

    gateway.fail = lambda n: False
    code, summary = run_import(str(export), "--url", gateway.url, "--batch-size", "10", "--concurrency", "1")
    assert code == 0
    assert (summary["resumed_from"], summary["sent"], summary["complete"]) == (20, 30, True)
    assert queued(aws) == ORDERS and len(gateway.accepted) == ORDERS and max(gateway.accepted.values()) == 1
    assert record_all(aws, lambda_context) == ORDERS
    assert_exact(aws, lambda_context, expected)

    code, summary = run_import(str(export), "--url", gateway.url)  # complete: nothing is sent again
    assert (code, summary["sent"]) == (0, 0) and queued(aws) == 0


def test_concurrent_failures_resend_only_harmlessly_and_restart_changes_nothing(gateway, aws, lambda_context,
                                                                               tmp_path, monkeypatch):
    monkeypatch.setenv("OMO_SOURCE_SECRET_POS", "test-pos-secret")  # the secret from the environment
    export = tmp_path / "orders.csv"
    expected = pos_export(export, orders=30, customers=11)
    gateway.fail = lambda n: n == 3  # one delivery in the middle fails for good; others around it succeed
    code, summary = run_import(str(export), "--url", gateway.url, "--batch-size", "5", "--concurrency", "4",
                               "--retries", "0")
    assert code == 3 and not summary["complete"]
    first_done = summary["acknowledged"]
    assert first_done < 30 and first_done % 5 == 0
    code, summary = run_import(str(export), "--url", gateway.url, "--batch-size", "5", "--concurrency", "4")
    assert code == 0 and summary["complete"] and summary["resumed_from"] == first_done
    assert len(gateway.accepted) == 30
    record_all(aws, lambda_context)
    assert_exact(aws, lambda_context, expected)

    code, summary = run_import(str(export), "--url", gateway.url, "--restart")  # everything again
    assert code == 0 and summary["sent"] == 30
    assert record_all(aws, lambda_context) == 30
    assert_exact(aws, lambda_context, expected)


def test_a_wrong_secret_stops_before_anything_is_stored(gateway, aws, tmp_path, capsys):
    export = tmp_path / "orders.csv"
    pos_export(export, orders=5)
    code, summary = run_import(str(export), "--url", gateway.url, "--secret", "not-the-secret")
    assert code == 3 and summary["acknowledged"] == 0
    assert "the signature was refused" in capsys.readouterr().err
    assert queued(aws) == 0


def test_straight_into_the_queue_the_worker_takes_the_messages_unchanged(aws, lambda_context, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    export = tmp_path / "orders.csv"
    expected = pos_export(export, orders=25, customers=9)
    code, summary = run_import(str(export), "--queue-url", aws["ingest_url"], "--concurrency", "3")
    assert code == 0 and summary["sent"] == 25
    message = boto3.client("sqs").receive_message(QueueUrl=aws["ingest_url"], MessageAttributeNames=["All"])
    attributes = message["Messages"][0]["MessageAttributes"]
    assert {k: v["StringValue"] for k, v in attributes.items()} == {"source": "pos", "event_type": "order.created"}
    aws["sqs"].change_message_visibility(QueueUrl=aws["ingest_url"],
                                         ReceiptHandle=message["Messages"][0]["ReceiptHandle"], VisibilityTimeout=0)
    assert record_all(aws, lambda_context) == 25
    assert_exact(aws, lambda_context, expected)


def test_jsonl_events_of_two_sources_go_to_their_own_webhooks(gateway, aws, lambda_context, tmp_path):
    sample = Path(__file__).resolve().parents[3] / "events" / "import" / "events.jsonl"
    copy = tmp_path / "events.jsonl"
    copy.write_bytes(sample.read_bytes())
    code, summary = run_import(str(copy), "--url", gateway.url, "--secret", "test-pos-secret")
    assert code == 3  # the ec lines are signed with the pos secret: refused
    code, summary = run_import(str(copy), "--url", gateway.url)  # each source's secret from the environment
    assert code == 0 and summary["complete"]
    record_all(aws, lambda_context)
    markers = Counter(i["pk"]["S"].split("#")[1] for i in table_items(aws) if i["pk"]["S"].startswith("EVENT#"))
    assert markers == {"pos": 4, "ec": 2}
