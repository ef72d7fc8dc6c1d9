"""The Docker-free local run: the template's stack on 127.0.0.1, in one process tree.

moto's server stands in for DynamoDB, SQS, EventBridge, Scheduler and SNS; every resource is
created from what template.yaml declares. An HTTP gateway turns requests into HTTP API v2
events for the handler each route names (behind the template's Lambda authorizer), pollers
feed each queue to the consumer the template wires, EventBridge rules deliver to their queue
targets (rules naming no bus listen on the default bus, where SES publishes), and a LINE Messaging API
stand-in plus the SMS and e-mail outboxes (``GET /_local/outbox``) record what would be sent.

The resources and the handlers' environment (with the local secret defaults, each overridable
by the environment variable of that name) come from :mod:`infra.moto_stack`. With a data dir,
tables and schedules outlive a restart (:mod:`infra.persistence`).
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from infra.handlers import entry_point, load_handler
from infra.moto_stack import provision
from infra.template import ACCOUNT, REGION, ROOT, Function, Names, QueueSource, Route, Template, load

STATE_FILE = Path(".omo2c-local.json")
RETRY_BACKOFF_SECONDS = 1
DRAIN_SECONDS = 10
QUEUE_COUNTS = {"approximate_number_of_messages": "visible", "approximate_number_of_messages_not_visible": "in_flight",
                "approximate_number_of_messages_delayed": "delayed"}
log = logging.getLogger("local_run")


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LambdaContext:
    """What a handler may ask of its context."""

    def __init__(self, function: Function) -> None:
        self.function_name = function.logical_id
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function.logical_id}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function.logical_id}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + 30

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionHost:
    """Invokes the template's handlers (imported once, on first use); one invocation at a time per function,
    like a warm container."""

    def __init__(self, template: Template) -> None:
        self.template = template
        self._locks = {name: threading.Lock() for name in template.functions}
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}

    def module(self, logical_id: str) -> ModuleType:
        return load_handler(logical_id, self.template)

    def invoke(self, logical_id: str, event: Any) -> Any:
        handler = self._handlers.get(logical_id)
        if handler is None:  # imported once per process: its entry point, once found, stays the same
            handler = self._handlers[logical_id] = entry_point(logical_id, self.template)
        with self._locks[logical_id]:
            return handler(event, LambdaContext(self.template.functions[logical_id]))


# ---------------------------------------------------------------------- HTTP API events
def _match(route: Route, method: str, path: str) -> dict[str, str] | None:
    if route.method != method:
        return None
    want, got = route.path.strip("/").split("/"), path.strip("/").split("/")
    if len(want) != len(got):
        return None
    params = {}
    for pattern, part in zip(want, got, strict=True):
        if pattern.startswith("{") and pattern.endswith("}"):
            if not part:
                return None
            params[pattern[1:-1]] = part
        elif pattern != part:
            return None
    return params


def http_api_event(request: Any, route: Route, path_params: dict[str, str]) -> dict[str, Any]:
    """The API Gateway HTTP API payload format 2.0 for one request."""
    from urllib.parse import unquote

    body = request.get_data()
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        key = key.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    query = {k: ",".join(request.args.getlist(k)) for k in request.args}
    now = datetime.now(tz=UTC)
    return {
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": request.path,
        "rawQueryString": request.query_string.decode(),
        "cookies": [f"{k}={v}" for k, v in request.cookies.items()] or None,
        "headers": headers,
        "queryStringParameters": query or None,
        "pathParameters": {k: unquote(v) for k, v in path_params.items()} or None,
        "requestContext": {
            "accountId": ACCOUNT, "apiId": "local", "domainName": request.host, "domainPrefix": "local",
            "http": {"method": request.method, "path": request.path, "protocol": "HTTP/1.1",
                     "sourceIp": request.remote_addr or "127.0.0.1",
                     "userAgent": request.headers.get("User-Agent", "")},
            "requestId": str(uuid.uuid4()), "routeKey": route.key, "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"), "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": text or None,
        "isBase64Encoded": encoded,
    }


def authorizer_event(event: dict[str, Any], route: Route) -> dict[str, Any]:
    return {
        "version": "2.0", "type": "REQUEST",
        "routeArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:local/$default/{route.method}{route.path}",
        "identitySource": [event["headers"].get("authorization", "")],
        "routeKey": route.key, "rawPath": event["rawPath"], "rawQueryString": event["rawQueryString"],
        "cookies": event["cookies"], "headers": event["headers"],
        "queryStringParameters": event["queryStringParameters"], "pathParameters": event["pathParameters"],
        "requestContext": event["requestContext"],
    }


def to_response(result: Any) -> Any:
    """Map a handler result back the way API Gateway does (payload format 2.0)."""
    from werkzeug.wrappers import Response

    if not isinstance(result, dict) or "statusCode" not in result:
        return Response(json.dumps(result), status=200, content_type="application/json")
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    response = Response(data, status=int(result["statusCode"]))
    response.headers.pop("Content-Type", None)
    for key, value in (result.get("headers") or {}).items():
        response.headers[key] = value
    for key, values in (result.get("multiValueHeaders") or {}).items():
        for value in values:
            response.headers.add(key, value)
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", cookie)
    if "Content-Type" not in response.headers:
        response.headers["Content-Type"] = "application/json"
    return response


def _json(status: int, body: Any) -> Any:
    from werkzeug.wrappers import Response

    return Response(json.dumps(body, ensure_ascii=False, default=str), status=status,
                    content_type="application/json")


# ---------------------------------------------------------------------- LINE stand-in
class LineStandIn:
    """Records what the handlers send to LINE and answers the way the Messaging API does."""

    SENDS = frozenset({"reply", "push", "multicast", "broadcast", "narrowcast"})

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._retry_keys: set[str] = set()
        self._faults: list[int] = []
        self._lock = threading.Lock()
        from infra.line_login import LocalLineLogin

        self.login = LocalLineLogin()

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self._retry_keys.clear()
            self._faults.clear()

    def handle(self, request: Any, path: str) -> Any:
        if (login := self.login.answer(request, path)) is not None:
            return _json(*login)
        if path == "_faults" and request.method == "POST":
            spec = request.get_json(silent=True) or {}
            with self._lock:
                self._faults.extend([int(spec.get("status", 500))] * int(spec.get("count", 1)))
            return _json(200, {"queued_faults": len(self._faults)})
        if path.startswith("v2/bot/profile/") and request.method == "GET":
            user_id = path.rsplit("/", 1)[1]
            return _json(200, {"userId": user_id, "displayName": "Local customer", "language": "zh-TW"})
        if path == "v2/bot/info" and request.method == "GET":
            return _json(200, {"userId": "Ulocalbot", "basicId": os.environ.get("OMO_LINE_BASIC_ID", "@omo2c"),
                               "displayName": "OMO2C local", "chatMode": "bot", "markAsReadMode": "auto"})
        kind = path.removeprefix("v2/bot/message/")
        if request.method != "POST" or kind not in self.SENDS:
            return _json(404, {"message": "Not found"})
        with self._lock:
            if self._faults:
                status = self._faults.pop(0)
                return _json(status, {"message": "The API rate limit has been exceeded" if status == 429
                                      else "Internal server error"})
        if request.headers.get("Authorization", "") != f"Bearer {os.environ.get('LINE_CHANNEL_ACCESS_TOKEN')}":
            return _json(401, {"message": "Authentication failed due to the following reason: invalid token."})
        payload = request.get_json(silent=True)
        problem = self._invalid(kind, payload)
        if problem:
            return _json(400, {"message": "The request body has 1 error(s)", "details": [{"message": problem}]})
        retry_key = request.headers.get("X-Line-Retry-Key")
        with self._lock:
            if retry_key and retry_key in self._retry_keys:
                from werkzeug.wrappers import Response

                response = _json(409, {"message": "The retry key is already accepted"})
                assert isinstance(response, Response)
                response.headers["x-line-accepted-request-id"] = retry_key
                return response
            if retry_key:
                self._retry_keys.add(retry_key)
            self.calls.append({"endpoint": kind, "to": payload.get("to"), "reply_token": payload.get("replyToken"),
                               "messages": payload["messages"], "retry_key": retry_key,
                               "at": datetime.now(tz=UTC).isoformat()})
        if kind in ("push", "reply"):
            return _json(200, {"sentMessages": [{"id": uuid.uuid4().hex[:18], "quoteToken": uuid.uuid4().hex}
                                                for _ in payload["messages"]]})
        return _json(200, {})

    @staticmethod
    def _invalid(kind: str, payload: Any) -> str | None:
        if not isinstance(payload, dict):
            return "The request body must be a JSON object"
        messages = payload.get("messages")
        if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
            return "messages: must have 1 to 5 messages"
        if kind == "push" and not isinstance(payload.get("to"), str):
            return "to: must be a user, group or room id"
        if kind == "multicast" and not (isinstance(payload.get("to"), list) and 1 <= len(payload["to"]) <= 500):
            return "to: must list 1 to 500 user ids"
        if kind == "reply" and not payload.get("replyToken"):
            return "replyToken: must be specified"
        return None


# ---------------------------------------------------------------------- queue pollers
class Poller(threading.Thread):
    """Delivers one queue's messages in batches to the function the template wires to it."""

    def __init__(self, host: FunctionHost, function: Function, source: QueueSource, queue_url: str,
                 sqs: Any, stop: threading.Event, retry_backoff: int = RETRY_BACKOFF_SECONDS) -> None:
        super().__init__(name=f"poll-{source.queue}", daemon=True)
        self.host, self.function, self.source = host, function, source
        self.queue_url, self.sqs, self.stop = queue_url, sqs, stop
        self.retry_backoff = retry_backoff
        self.delivered = 0
        self.failed = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.poll_once()
            except Exception:
                log.exception("poller %s failed a turn", self.source.queue)
                self.stop.wait(1)

    def poll_once(self) -> int:
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=min(self.source.batch_size, 10), WaitTimeSeconds=1,
            AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
        if not received:
            return 0
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{self.source.queue}"
        records = [{
            "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
            "attributes": m.get("Attributes", {}), "messageAttributes": {
                k: {"stringValue": v.get("StringValue"), "binaryValue": v.get("BinaryValue"),
                    "stringListValues": [], "binaryListValues": [], "dataType": v["DataType"]}
                for k, v in (m.get("MessageAttributes") or {}).items()},
            "md5OfBody": m.get("MD5OfBody", ""), "eventSource": "aws:sqs", "eventSourceARN": arn,
            "awsRegion": REGION} for m in received]
        try:
            result = self.host.invoke(self.function.logical_id, {"Records": records})
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])} \
                if self.source.report_failures else set()
        except Exception:
            log.warning("%s failed a batch:\n%s", self.function.logical_id, traceback.format_exc(limit=3))
            failed = {m["MessageId"] for m in received}
        done = [m for m in received if m["MessageId"] not in failed]
        retry = [m for m in received if m["MessageId"] in failed]
        if done:
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
        if retry:
            self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self.retry_backoff}
                for i, m in enumerate(retry)])
        self.delivered += len(done)
        self.failed += len(retry)
        return len(received)


# ---------------------------------------------------------------------- servers
_handler_class: Any = None


def keep_alive_handler() -> Any:
    """werkzeug's request handler, keeping the connection open for the client's next request.

    werkzeug answers every request with ``Connection: close``, as it cannot tell how much of a body the
    application left unread; each AWS call of a handler then costs a new connection and a new server
    thread, more than moto's work for most calls. Here a request that gives its Content-Length has its body
    read before the application runs, so nothing is left on the connection but the next request; any other
    request (a chunked body, ``Expect: 100-continue``) is answered and closed as werkzeug does.
    """
    global _handler_class
    if _handler_class is None:
        import io

        from werkzeug.serving import WSGIRequestHandler

        class KeepAliveHandler(WSGIRequestHandler):
            keep_alive = False

            def setup(self) -> None:
                super().setup()
                # headers and body leave in two writes: without this, Nagle's algorithm holds the body back
                # until the client's delayed ACK of the headers (some 40 ms) on a connection kept open
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def run_wsgi(self) -> None:
                length = self.headers.get("Content-Length")
                self.keep_alive = (not self.headers.get("Transfer-Encoding") and not self.headers.get("Expect")
                                   and (length is None or length.strip().isdigit()))
                if not self.keep_alive:
                    super().run_wsgi()
                    return
                connection = self.rfile
                self.rfile = io.BytesIO(connection.read(int(length)) if length else b"")  # type: ignore[assignment]
                try:
                    super().run_wsgi()
                finally:
                    self.rfile = connection
                    self.keep_alive = False

            def send_header(self, keyword: str, value: str) -> None:
                if self.keep_alive and keyword.lower() == "connection" and value.lower() == "close":
                    return  # the body is read: the connection can carry the next request
                super().send_header(keyword, value)

        _handler_class = KeepAliveHandler
    return _handler_class


class MotoServer:
    """moto's server (as ``moto.server.ThreadedMotoServer`` runs it) in a thread, on keep-alive connections.

    The run's own handlers live in this process: a request of theirs to ``endpoint`` is handed to the
    server's WSGI application right here (:meth:`answer`), not sent through a socket to a server thread
    and back, which cost more than moto's own work for most calls. It is the same application with the
    same request: the same answer. Anyone else (a browser, the AWS CLI, ``sam local invoke``) uses HTTP.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.endpoint = f"http://127.0.0.1:{port}"
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._send: Any = None

    def start(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import make_server

        self.app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self.host, self.port, self.app, threaded=True,
                                   request_handler=keep_alive_handler())
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)
        self._thread.start()
        self._serve_in_process()

    def _serve_in_process(self) -> None:
        from botocore.httpsession import URLLib3Session

        send, prefix, server = URLLib3Session.send, self.endpoint + "/", self

        def local_send(session: Any, request: Any) -> Any:
            if request.url.startswith(prefix):
                return server.answer(request)
            return send(session, request)

        self._send = send
        URLLib3Session.send = local_send

    def answer(self, request: Any) -> Any:
        """botocore's prepared ``request`` through the server's application, as the HTTP server would pass it."""
        from urllib.parse import urlsplit

        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse
        from werkzeug.test import EnvironBuilder, run_wsgi_app

        parts = urlsplit(request.url)
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
        environ = EnvironBuilder(path=parts.path, query_string=parts.query, method=request.method,
                                 base_url=self.endpoint, headers=headers, data=body or b"").get_environ()
        environ["REMOTE_ADDR"] = "127.0.0.1"
        chunks, status, response_headers = run_wsgi_app(self.app, environ, buffered=True)
        return AWSResponse(request.url, int(status.split(" ", 1)[0]), dict(response_headers),
                           MockRawResponse(b"".join(chunks)))

    def stop(self) -> None:
        if self._send is not None:
            from botocore.httpsession import URLLib3Session

            URLLib3Session.send = self._send
            self._send = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


# ---------------------------------------------------------------------- the run
class LocalRun:
    def __init__(self, port: int = 3000, template: Template | None = None, *,
                 data_dir: str | Path | None = None, aws_port: int | None = None, host: str = "127.0.0.1") -> None:
        self.port = port
        self.aws_port = aws_port  # None: any free port
        self.bind_host = host  # 0.0.0.0 lets Docker containers (sam local invoke on Linux) reach the run
        self.template = template or load()
        self.names = Names(self.template)
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self.data: Any = None
        self.restored: dict[str, int] = {}
        self.stop_event = threading.Event()
        self.line = LineStandIn()
        self.host = FunctionHost(self.template)
        self.pollers: list[Poller] = []
        self.services: list[Any] = []
        self._moto: Any = None
        self._http: Any = None
        self.closing = False
        self.aws_endpoint = ""
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        aws_port = self.aws_port or free_port()
        self._moto = MotoServer(self.bind_host, aws_port)
        self._moto.start()
        self.aws_endpoint = f"http://127.0.0.1:{aws_port}"
        self.env = provision(self.names, self.aws_endpoint, self.url)
        self._restore()
        from omo2c.core.aws import client

        for function in self.template.functions.values():
            for source in function.queues:
                poller = Poller(self.host, function, source, self.names.queue_urls[source.queue], client("sqs"),
                                self.stop_event)
                poller.start()
                self.pollers.append(poller)
        self._start_scheduler()
        from werkzeug.serving import make_server

        self._http = make_server(self.bind_host, self.port, self.wsgi, threaded=True,
                                 request_handler=keep_alive_handler())
        threading.Thread(target=self._http.serve_forever, name="gateway", daemon=True).start()
        STATE_FILE.write_text(json.dumps({"url": self.url, "aws_endpoint": self.aws_endpoint, "pid": os.getpid(),
                                          "env": self.env}, indent=2))

    def _start_scheduler(self) -> None:
        """The campaign scheduler joins the run when the project has one."""
        if importlib.util.find_spec("infra.scheduler") is None:
            return
        from infra.scheduler import LocalScheduler

        scheduler = LocalScheduler(self.host, self.names, self.stop_event)
        scheduler.start()
        self.services.append(scheduler)

    def _restore(self) -> None:
        """With a data dir, the last save's items and schedules come back before anything is served."""
        if self.data_dir is None:
            return
        from infra.persistence import DataDir, Saver

        self.data = DataDir(self.data_dir, self.names)
        self.restored = self.data.restore()
        saver = Saver(self.data, self.stop_event)
        saver.start()
        self.services.append(saver)

    def data_note(self) -> str:
        """For the ready line: where the data lives and what came back from it."""
        if self.data_dir is None:
            return ""
        items = sum(n for key, n in self.restored.items() if key in self.template.tables)
        schedules = sum(n for key, n in self.restored.items() if key in self.template.schedule_groups)
        return f"; data in {self.data_dir}: {items} items and {schedules} schedules restored"

    def drain(self, timeout: float = DRAIN_SECONDS) -> bool:
        """Let the pollers finish what the queues hold (queues are not saved); whether they all emptied."""
        quiet, deadline = 0, time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = any(stats[name] for stats in self.queue_stats().values() for name in QUEUE_COUNTS.values())
            quiet = 0 if busy else quiet + 1
            if quiet >= 2:  # two empty rounds: no handler was mid-way passing a message on
                return True
            time.sleep(0.2)
        log.warning("stopping with messages still in the queues after %ss; they are not kept", timeout)
        return False

    def stop(self) -> None:
        """With a data dir: refuse new requests (503), drain the queues, stop every thread, then save."""
        try:
            if self.data is not None:
                self.closing = True
                self.drain()
            self.stop_event.set()
            if self._http is not None:
                self._http.shutdown()
            for thread in [*self.pollers, *(s for s in self.services if isinstance(s, threading.Thread))]:
                thread.join(timeout=5)
            if self.data is not None:
                self.data.save()
        finally:
            if self._moto is not None:
                self._moto.stop()
            STATE_FILE.unlink(missing_ok=True)

    # ------------------------------------------------------------------ gateway
    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        from werkzeug.wrappers import Request

        request = Request(environ)
        try:
            response = self.dispatch(request)
        except Exception:
            log.error("request failed:\n%s", traceback.format_exc(limit=5))
            response = _json(500, {"message": "Internal Server Error"})
        return response(environ, start_response)

    def dispatch(self, request: Any) -> Any:
        path = request.path
        if path.startswith("/_local/"):
            return self.local_route(request, path.removeprefix("/_local/"))
        if self.closing:  # draining before a save: what arrives now could not be kept
            return _json(503, {"message": "Service Unavailable: the local run is stopping"})
        if path == "/openapi.json" and request.method == "GET":
            document = ROOT / "docs" / "openapi.json"
            return _json(200, json.loads(document.read_text())) if document.exists() else _json(404, {})
        for route in self.template.routes:
            params = _match(route, request.method, path)
            if params is None:
                continue
            event = http_api_event(request, route, params)
            if route.protected and self.template.authorizer:
                if not event["headers"].get("authorization"):
                    return _json(401, {"message": "Unauthorized"})
                verdict = self.host.invoke(self.template.authorizer, authorizer_event(event, route))
                if not verdict.get("isAuthorized"):
                    return _json(403, {"message": "Forbidden"})
                event["requestContext"]["authorizer"] = {"lambda": verdict.get("context") or {}}
            return to_response(self.host.invoke(route.function, event))
        return _json(404, {"message": "Not Found"})

    def local_route(self, request: Any, path: str) -> Any:
        if path.startswith("line/"):
            return self.line.handle(request, path.removeprefix("line/"))
        if path == "outbox" and request.method == "GET":
            return _json(200, {"line": list(self.line.calls), "sms": self.sms_outbox(), "email": self.email_outbox()})
        if path == "outbox" and request.method == "DELETE":
            self.line.clear()
            self._sns_backend().sms_messages.clear()
            self._ses_backend().sent_messages.clear()
            return _json(200, {"cleared": True})
        if path == "health":
            return _json(200, {"status": "ok"})
        if path == "wiring":
            return _json(200, {
                "routes": sorted(r.key for r in self.template.routes),
                "pollers": sorted({p.source.queue for p in self.pollers if p.is_alive()}),
                "functions": sorted(self.template.functions),
                "rules": sorted(self.template.rules),
                "stats": self.queue_stats(),
            })
        return _json(404, {"message": "Not Found"})

    def queue_stats(self) -> dict[str, dict[str, int]]:
        """Per polled queue: messages its consumer took (``delivered``) and gave back (``failed``), and what the
        queue holds now: ``visible``, ``in_flight`` (received, not yet deleted) and ``delayed``."""
        from moto.sqs.models import sqs_backends

        queues, stats = sqs_backends[ACCOUNT][REGION].queues, {}
        for poller in self.pollers:  # read from moto itself: a watcher polling this must not load the run
            queue = queues[poller.queue_url.rsplit("/", 1)[-1]]
            stats[poller.source.queue] = {
                "delivered": poller.delivered, "failed": poller.failed,
                **{name: int(getattr(queue, attribute)) for attribute, name in QUEUE_COUNTS.items()}}
        return stats

    @staticmethod
    def _sns_backend() -> Any:
        from moto.sns.models import sns_backends

        return sns_backends[ACCOUNT][REGION]

    def sms_outbox(self) -> list[dict[str, str]]:
        return [{"message_id": message_id, "phone_number": phone, "message": message}
                for message_id, (phone, message) in list(self._sns_backend().sms_messages.items())]

    @staticmethod
    def _ses_backend() -> Any:
        from moto.ses.models import ses_backends

        return ses_backends[ACCOUNT][REGION]

    def email_outbox(self) -> list[dict[str, Any]]:
        """Every e-mail moto's SES took (SES v2 keeps them there too), read back from its raw MIME."""
        return [email_view(m.id, m.raw_data) for m in list(self._ses_backend().sent_messages)
                if hasattr(m, "raw_data")]


def email_view(message_id: str, raw: str) -> dict[str, Any]:
    """One raw message as the outbox shows it: addresses, decoded subject, both parts, the unsubscribe headers."""
    import email
    import email.policy

    message = email.message_from_string(raw, policy=email.policy.default)

    def part(subtype: str) -> str | None:
        found = message.get_body(preferencelist=(subtype,))
        return found.get_content().replace("\r\n", "\n") if found is not None else None  # type: ignore[attr-defined]

    return {"message_id": message_id, "from": str(message.get("From", "")), "to": str(message.get("To", "")),
            "subject": str(message.get("Subject", "")),
            "headers": {name: str(message[name]) if message[name] is not None else None
                        for name in ("List-Unsubscribe", "List-Unsubscribe-Post")},
            "text": part("plain"), "html": part("html")}


def serve(port: int, journey: bool = False, data_dir: str | Path | None = None, *, aws_port: int | None = None,
          host: str = "127.0.0.1") -> int:
    """`omo2c local`: start, print one ready line, optionally play the journey, stop on Ctrl-C or SIGTERM
    (with a data dir: drain the queues, then save)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    run = LocalRun(port, data_dir=data_dir, aws_port=aws_port, host=host)
    stopping = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    run.start()
    print(f"OMO2C local run ready at {run.url} (AWS endpoints: {run.aws_endpoint}{run.data_note()})", flush=True)
    if journey and any(run.restored.values()):
        # its campaign was already sent to the same customers; the frequency cap rightly stops it again
        print("Journey skipped: the data dir already holds data (the journey plays on an empty start).", flush=True)
    elif journey:
        from infra.journey import JourneyFailed, play

        try:
            play(run.url, os.environ["OMO_ADMIN_TOKEN"], say=lambda line: print(line, flush=True))
        except JourneyFailed as exc:
            print(f"Journey stopped: {exc}", flush=True)
    while not stopping.wait(0.5):
        pass
    run.stop()
    print(f"OMO2C local run stopped{f'; data saved in {run.data_dir}' if run.data_dir else ''}.", flush=True)
    return 0
