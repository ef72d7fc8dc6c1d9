"""Order events from the bus through the attribute function into statements, against moto."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest

from omo2c import wiring
from omo2c.attribution.api_models import StaffStatement
from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.members.storage import MemberItem, member_key
from omo2c.sources.canonical import CanonicalEvent
from tests.conftest import published
from tests.support.aws import http_event, load_handler, sqs_event
from tests.support.events import pos_order, sample

ADMIN = {"Authorization": "Bearer test-admin-token"}
MONTH = datetime.now(tz=UTC).strftime("%Y-%m")


@pytest.fixture
def attribute(aws, lambda_context):
    consumer = load_handler("AttributeFunction")
    api = load_handler("StatementsApiFunction")

    def flow(*raw_events: dict) -> None:
        for raw in raw_events:
            outcome = wiring.production().resolver.record(
                CanonicalEvent.model_validate({**raw, "source": raw.get("source", "pos")}))
            wiring.production().publish(outcome.events)
        envelopes = [e for e in published(aws) if e["detail-type"].startswith("order.")]
        result = consumer.lambda_handler(sqs_event([json.dumps(e) for e in envelopes]), lambda_context)
        assert result == {"batchItemFailures": []}

    def get(path: str, route: str, params: dict, query=None, accept="application/json"):
        event = http_event("GET", path, route=route, headers={**ADMIN, "Accept": accept}, query=query,
                           path_params=params)
        return api.lambda_handler(event, lambda_context)

    return flow, get


def statement(get, staff_id: str, accept="application/json"):
    return get(f"/staff/{staff_id}/statement", "/staff/{staff_id}/statement", {"staff_id": staff_id},
               {"month": MONTH}, accept)


def test_pos_sale_refund_and_redelivery(attribute):
    flow, get = attribute
    sale = pos_order("a-1", phone="0955-101-202", order_id="AT-1", total=1280)
    flow(sale)
    doc = json.loads(statement(get, "S001")["body"])
    assert [(line["kind"], line["amount"], line["status"]) for line in doc["lines"]] == [("sale", "26", "pending")]
    flow(pos_order("a-2", phone="0955-101-202", order_id="AT-1", total=1280, type_="order.refunded",
                   refunds=[{"refund_id": "R1", "amount": 280}]))
    flow(sale)
    doc = json.loads(statement(get, "S001")["body"])
    assert [line["amount"] for line in doc["lines"]] == ["26", "-6"] and doc["totals"]["total"] == "20"
    StaffStatement.model_validate(doc)  # the JSON alternative answers what the OpenAPI document says
    csv = statement(get, "S001", accept="text/csv")
    assert csv["headers"]["Content-Type"].startswith("text/csv") and "sale" in csv["body"]
    trace = get("/orders/pos/AT-1/attribution", "/orders/{source}/{order_id}/attribution",
                {"source": "pos", "order_id": "AT-1"})
    body = json.loads(trace["body"])
    assert body["rule"] == "pos_checkout_staff" and body["commission"] == "20"
    assert body["trace"][0]["matched"] is True


def test_ec_order_of_a_bound_member_goes_to_the_bound_staff(attribute):
    flow, get = attribute
    flow(pos_order("b-1", phone="0955-303-404", order_id="B-1", total=100))
    member = wiring.production().members.find_by_identifier(Identifier(IdentifierKind.PHONE, "+886955303404"))
    MemberItem(*member_key(member.member_id)).update(actions=[MemberItem.binding.set(
        {"staff_id": "S777", "store_id": "ST07", "bound_at": "2026-01-01T00:00:00+00:00",
         "last_interaction_at": "2026-11-01T00:00:00+00:00"})])
    ec = pos_order("b-2", phone="0955303404", order_id="EC-9", total=2000, occurred_at=datetime.now(tz=UTC).isoformat())
    ec.update(channel="ec", staff_id=None, store_id=None, source="ec")
    flow(ec)
    doc = json.loads(statement(get, "S777")["body"])
    lines = [(line["order_id"], line["rule"], line["amount"]) for line in doc["lines"]]
    assert lines == [("EC-9", "active_binding", "100")]


def test_bad_month_is_422_and_unknown_order_is_404(attribute):
    _, get = attribute
    bad = get("/staff/S1/statement", "/staff/{staff_id}/statement", {"staff_id": "S1"}, {"month": "2026-13"})
    assert bad["statusCode"] == 422
    missing = get("/orders/pos/nope/attribution", "/orders/{source}/{order_id}/attribution",
                  {"source": "pos", "order_id": "nope"})
    assert missing["statusCode"] == 404


def test_a_malformed_bus_event_fails_alone_and_goes_back_to_its_queue(aws, lambda_context):
    """A poison event is a batch item failure (SQS retries it, then the DLQ keeps it); its neighbours are credited."""
    consumer = load_handler("AttributeFunction")
    good = sample("attribute/eventbridge-order-recorded.json")
    broken = {**good, "detail": {**good["detail"], "net_kept": "lots"}}
    result = consumer.lambda_handler(sqs_event([json.dumps(broken), json.dumps(good)]), lambda_context)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    trace = wiring.production().commission_service.explain("pos", good["detail"]["order_id"])
    assert trace["rule"] == "pos_checkout_staff"


def test_statement_csv_cells_never_execute_in_a_spreadsheet(attribute, aws, lambda_context):
    """Bus events carry ids unchecked: a formula-looking order id is quoted text, a negative amount a number."""
    _, get = attribute
    sale = sample("attribute/eventbridge-order-recorded.json")
    sale["detail"] |= {"order_id": "=SUM(1,1)", "source": "@pos"}
    refund = {**sale, "detail": sale["detail"] | {"event_type": "order.refunded", "version": "00000002",
                                                  "refunded": "280", "net_kept": "1000"}}
    consumer = load_handler("AttributeFunction")
    for envelope in (sale, refund):
        assert consumer.lambda_handler(sqs_event([json.dumps(envelope)]), lambda_context) == {"batchItemFailures": []}
    body = statement(get, "S001", accept="text/csv")["body"]
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    assert [(r["order_id"], r["source"], r["amount"]) for r in rows[:2]] == [
        ("'=SUM(1,1)", "'@pos", "26"), ("'=SUM(1,1)", "'@pos", "-6")]
    assert {r["created_at"]: r["amount"] for r in rows[2:]}["total total"] == "20"
