"""The bus contract: every event typed and versioned, its schema published, consumers strict."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from infra import events_schema
from infra.template import load
from omo2c.events import (
    BY_DETAIL_TYPE,
    EVENTS,
    BusEvent,
    MemberBound,
    MemberCreated,
    OrderRecorded,
    from_stored,
    queued,
)

NOW = datetime(2026, 11, 24, 3, tzinfo=UTC)
ORDER = OrderRecorded(event_id="e1", event_type="order.created", source="pos", order_id="A", channel="pos",
                      total=100, net=100, net_kept=100, status="open", version="00000001", occurred_at=NOW)


def record(detail_type: str, detail: dict, message_id: str = "m-1") -> dict:
    envelope = {"version": "0", "id": "x", "source": "omo2c.ingest", "account": "1", "time": NOW.isoformat(),
                "region": "ap-northeast-1", "resources": [], "detail-type": detail_type, "detail": detail}
    return {"messageId": message_id, "receiptHandle": "r", "body": json.dumps(envelope)}


def test_the_published_schema_is_current():
    current = json.loads(events_schema.DOCUMENT.read_text())
    assert current == events_schema.build(), "run `python -m infra.events_schema`"


def test_every_bus_event_is_listed_once_with_a_version():
    assert set(BusEvent.__subclasses__()) == set(EVENTS)
    assert len(BY_DETAIL_TYPE) == len(EVENTS)
    documented = {e["detail-type"] for e in events_schema.build()["events"]}
    assert documented == set(BY_DETAIL_TYPE)


def test_what_a_write_keeps_reads_back_as_the_same_event():
    bound = MemberBound(member_id="m1", staff_id="S001", via="qr", bound_at=NOW, policy_version="2026-11")
    for event in (ORDER, bound):
        assert from_stored(json.loads(json.dumps(event.stored()))) == event


def test_a_consumer_parses_its_events_inside_the_envelope_and_refuses_anything_else():
    model = queued(MemberCreated, OrderRecorded)
    parsed = model.model_validate(record("order.recorded", ORDER.model_dump(mode="json")))
    assert parsed.body.detail == ORDER
    with pytest.raises(ValidationError):
        model.model_validate(record("order.recorded", {**ORDER.model_dump(mode="json"), "status": "sideways"}))
    with pytest.raises(ValidationError):
        model.model_validate(record("member.bound", {"member_id": "m1"}))
    with pytest.raises(ValidationError):
        model.model_validate(record("order.recorded", {**ORDER.model_dump(mode="json"), "schema_version": 2}))


def test_every_rule_routes_only_events_that_exist_from_the_source_that_publishes_them():
    for rule in load().rules.values():
        types = rule.pattern["detail-type"]
        if rule.bus is None:  # the default bus: AWS services' events (SES bounces), never ours
            assert all(s.startswith("aws.") for s in rule.pattern["source"]), rule.logical_id
            continue
        assert all(isinstance(t, str) and t in BY_DETAIL_TYPE for t in types), rule.logical_id
        assert {BY_DETAIL_TYPE[t].SOURCE for t in types} <= set(rule.pattern["source"]), rule.logical_id
