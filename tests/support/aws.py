"""Test plumbing: events and a context for calling handlers (loaded by ``load_handler``, as the local run does)."""

from __future__ import annotations

import json
from typing import Any

from infra.handlers import load_handler

__all__ = ["FakeContext", "http_event", "load_handler", "sqs_event"]


def sqs_event(bodies: list[Any], queue_arn: str = "arn:aws:sqs:ap-northeast-1:123456789012:q") -> dict[str, Any]:
    return {"Records": [{
        "messageId": f"m-{i}", "receiptHandle": f"r-{i}",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0", "SenderId": "x",
                       "ApproximateFirstReceiveTimestamp": "0"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": queue_arn,
        "awsRegion": "ap-northeast-1"} for i, body in enumerate(bodies)]}


ADMIN = {"role": "admin", "staff_id": "", "store_id": "", "key_id": ""}


def http_event(method: str, path: str, *, route: str, body: str | bytes = "", headers: dict[str, str] | None = None,
               query: dict[str, str] | None = None, path_params: dict[str, str] | None = None,
               caller: dict[str, str] | None = ADMIN) -> dict[str, Any]:
    """An HTTP API event as it reaches a handler; ``caller`` is what the authorizer passed (the admin by default)."""
    text = body.decode() if isinstance(body, bytes) else body
    from urllib.parse import urlencode

    return {
        "version": "2.0", "routeKey": f"{method} {route}", "rawPath": path,
        "rawQueryString": urlencode(query or {}), "headers": {k.lower(): v for k, v in (headers or {}).items()},
        "queryStringParameters": query or None, "pathParameters": path_params or None,
        "requestContext": {"accountId": "123456789012", "apiId": "local", "domainName": "localhost",
                           "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                    "sourceIp": "127.0.0.1", "userAgent": "pytest"},
                           "requestId": "req-1", "routeKey": f"{method} {route}", "stage": "$default",
                           "time": "24/Nov/2026:00:00:00 +0000", "timeEpoch": 0,
                           **({"authorizer": {"lambda": caller}} if caller is not None else {})},
        "body": text, "isBase64Encoded": False,
    }


class FakeContext:
    function_name = "test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:ap-northeast-1:123456789012:function:test"
    aws_request_id = "req-1"
    log_group_name = "/aws/lambda/test"
    log_stream_name = "stream"
    function_version = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def drain_queue(sqs: Any, queue_url: str, handler: Any, context: Any, services: Any) -> int:
    """Feed a queue to its consumer until it is empty (every record must succeed); how many were handled."""
    handled = 0
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return handled
        result = handler.lambda_handler(sqs_event([m["Body"] for m in messages]), context, services=services)
        assert result == {"batchItemFailures": []}
        for m in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        handled += len(messages)


def bus_record(bus_event: Any, time: str = "2026-12-01T00:00:00Z") -> str:
    """A bus event in its EventBridge envelope, as a queue fed by a rule holds it."""
    import json

    return json.dumps({"id": "e1", "source": bus_event.SOURCE, "time": time, "detail-type": bus_event.DETAIL_TYPE,
                       "detail": bus_event.model_dump(mode="json")})
