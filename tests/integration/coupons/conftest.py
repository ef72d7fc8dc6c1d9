"""Coupons against moto: members made by POS sales, handlers called with the test's services and clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from omo2c import wiring
from omo2c.binding.model import Binding
from omo2c.core.settings import Settings
from omo2c.members.model import LineStatus
from omo2c.sources.canonical import CanonicalEvent
from tests.support.aws import ADMIN, http_event, load_handler, sqs_event
from tests.support.events import pos_order
from tests.support.fakes import FakeMessenger, FakeSms


class Clock:
    """A clock the test moves: coupons expire by it. It starts at 11:00 today in Taipei, outside the default
    quiet hours, so triggered messages go out at once."""

    def __init__(self) -> None:
        taipei = datetime.now(tz=ZoneInfo("Asia/Taipei")).replace(hour=11, minute=0, second=0, microsecond=0)
        self.now = taipei.astimezone(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Stack:
    def __init__(self, aws: dict[str, Any], lambda_context: Any, settings: Settings | None = None) -> None:
        self.aws, self.context, self.clock = aws, lambda_context, Clock()
        self.line, self.sms = FakeMessenger(), FakeSms()
        self.services = wiring.Services(settings or Settings.from_env(), messenger=self.line, sms=self.sms,
                                        clock=self.clock)
        self._handlers: dict[str, Any] = {}
        self.counter = 0

    def configure(self, **changes: Any) -> None:
        """The same stack with other settings (a welcome template, tiers, a staff cap)."""
        settings = self.services.settings.model_copy(update=changes)
        self.services = wiring.Services(settings, messenger=self.line, sms=self.sms, clock=self.clock)

    def drain(self) -> int:
        """Send every queued message job, as the send worker does."""
        handled = 0
        while True:
            got = self.aws["sqs"].receive_message(QueueUrl=self.aws["send_url"], MaxNumberOfMessages=10)
            messages = got.get("Messages", [])
            if not messages:
                return handled
            self.send([m["Body"] for m in messages])
            for message in messages:
                self.aws["sqs"].delete_message(QueueUrl=self.aws["send_url"], ReceiptHandle=message["ReceiptHandle"])
            handled += len(messages)

    def send(self, bodies: list[str]) -> None:
        result = self.handler("SendWorkerFunction").lambda_handler(sqs_event(bodies), self.context,
                                                                   services=self.services)
        assert result == {"batchItemFailures": []}

    def event(self, bus_event: Any) -> None:
        """Deliver a bus event to the triggers, as NotifyEventsQueue does."""
        body = json.dumps({"id": "e1", "source": bus_event.SOURCE, "time": "2026-11-24T00:00:00Z",
                           "detail-type": bus_event.DETAIL_TYPE, "detail": bus_event.model_dump(mode="json")})
        result = self.handler("NotifyEventsFunction").lambda_handler(sqs_event([body]), self.context,
                                                                     services=self.services)
        assert result == {"batchItemFailures": []}

    def handler(self, name: str) -> Any:
        if name not in self._handlers:
            self._handlers[name] = load_handler(name)
        return self._handlers[name]

    def call(self, method: str, path: str, route: str, body: Any = None, params: dict[str, str] | None = None,
             caller: dict[str, str] | None = ADMIN, function: str = "CouponsApiFunction") -> tuple[int, Any]:
        event = http_event(method, path, route=route, caller=caller, path_params=params,
                           headers={"Content-Type": "application/json"},
                           body=json.dumps(body, ensure_ascii=False) if body is not None else "")
        response = self.handler(function).lambda_handler(event, self.context, services=self.services)
        text = response.get("body") or ""
        return response["statusCode"], json.loads(text) if text.startswith(("{", "[")) else text

    # ------------------------------------------------------------------ the business
    def template(self, **fields: Any) -> dict[str, Any]:
        body = {"name": "滿千折百", "kind": "amount", "value": 100, "min_spend": 1000, "valid_days": 30,
                "per_member_limit": 5} | fields
        status, template = self.call("POST", "/coupon-templates", "/coupon-templates", body)
        assert status == 201, template
        return template

    def member(self, n: int, *, line: bool = False, sms: bool = True, staff: str | None = None,
               store: str = "ST01") -> str:
        self.counter += 1
        raw = pos_order(f"cp-{n}-{self.counter}", phone=f"0955{700000 + n:06d}", order_id=f"CP{n}-{self.counter}",
                        total=500, occurred_at=datetime.now(tz=UTC).isoformat(), name=f"客人{n}")
        raw["customer"]["consent"] = {"sms": sms}
        raw["store_id"] = store
        event = CanonicalEvent.model_validate({**raw, "source": "pos"})
        member_id = wiring.production().resolver.record(event).member_id
        members = wiring.production().members
        now = min(self.clock.now, datetime.now(tz=UTC))  # bound before the test's "now"
        if staff:
            members.bind(members.get_member(member_id), Binding(staff, store, now, "qr", "test", now))
        if line:
            members.set_line(members.get_member(member_id), LineStatus("U" + f"{n:032x}", True, now.isoformat()))
        return member_id

    def issue(self, member_id: str, template_id: str) -> tuple[int, Any]:
        return self.call("POST", f"/members/{member_id}/coupons", "/members/{member_id}/coupons",
                         {"template_id": template_id}, {"member_id": member_id})

    def redeem(self, code: str, order_ref: str, store_id: str = "ST01", order_total: Any = 1280,
               caller: dict[str, str] | None = ADMIN) -> tuple[int, Any]:
        body = {"order_ref": order_ref, "store_id": store_id}
        if order_total is not None:
            body["order_total"] = order_total
        return self.call("POST", f"/coupons/{code}/redeem", "/coupons/{code}/redeem", body, {"code": code},
                         caller=caller)

    def wallet(self, member_id: str) -> dict[str, Any]:
        status, wallet = self.call("GET", f"/members/{member_id}/coupons", "/members/{member_id}/coupons",
                                   params={"member_id": member_id})
        assert status == 200, wallet
        return wallet


@pytest.fixture
def stack(aws, lambda_context) -> Stack:
    directory = wiring.production().staff_directory
    for store in ("ST01", "ST02"):
        directory.put_store(store, f"{store} 店", None)
    directory.put_staff("S001", "王小明", "ST01", "active")
    directory.put_staff("S002", "李大華", "ST02", "active")
    return Stack(aws, lambda_context)
