"""The attribute function keeps a loyal buyer's binding alive in the members table, against moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from infra.template import load_raw
from omo2c import wiring
from omo2c.binding.model import Binding
from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.sources.canonical import CanonicalEvent
from tests.conftest import published
from tests.support.aws import load_handler, sqs_event
from tests.support.events import pos_order


def credit(aws, ctx, raw: dict) -> None:
    outcome = wiring.production().resolver.record(CanonicalEvent.model_validate({**raw, "source": raw["channel"]}))
    wiring.production().publish(outcome.events)
    envelopes = [e for e in published(aws) if e["detail-type"] == "order.recorded"]
    result = load_handler("AttributeFunction").lambda_handler(sqs_event([json.dumps(e) for e in envelopes]), ctx)
    assert result == {"batchItemFailures": []}


def test_a_pos_sale_by_the_bound_staff_member_moves_the_last_interaction_forward(aws, lambda_context):
    members = wiring.production().members
    now = datetime.now(tz=UTC).replace(microsecond=0)
    first = pos_order("first", phone="0955-818-919", order_id="F-1",
                      occurred_at=(now - timedelta(days=200)).isoformat())
    credit(aws, lambda_context, {**first, "staff_id": "S009"})
    member = members.find_by_identifier(Identifier(IdentifierKind.PHONE, "+886955818919"))
    line_message = now - timedelta(days=170)
    members.bind(member, Binding("S001", "ST01", line_message, "qr", "test", line_message))

    sale = now - timedelta(days=10)
    credit(aws, lambda_context, pos_order("sale", phone="0955818919", order_id="F-2", occurred_at=sale.isoformat()))
    assert members.get_member(member.member_id).binding.last_interaction_at == sale
    credit(aws, lambda_context, pos_order("older", phone="0955818919", order_id="F-3",
                                          occurred_at=(now - timedelta(days=20)).isoformat()))
    assert members.get_member(member.member_id).binding.last_interaction_at == sale, "never back"


def test_the_attribute_function_may_write_the_members_table():
    policies = load_raw()["Resources"]["AttributeFunction"]["Properties"]["Policies"]
    tables = {next(iter(p.values()))["TableName"]["Ref"]: next(iter(p)) for p in policies
              if isinstance(p, dict) and "TableName" in next(iter(p.values()))}
    assert tables["MembersTable"] == "DynamoDBCrudPolicy"
