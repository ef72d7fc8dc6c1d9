"""The generic source: only documented errors, whatever arrives; valid events round-trip."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from omo2c.core.errors import OmoError
from omo2c.sources.canonical import CanonicalEvent
from omo2c.sources.generic import ADAPTER
from tests.support.events import sample

JSONISH = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
                       lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                    max_size=6), max_leaves=25)
FIELDS = st.dictionaries(st.sampled_from(["event_id", "type", "occurred_at", "channel", "customer", "order",
                                          "events", "store_id", "staff_id", "referral_code"]), JSONISH, max_size=8)


@given(st.one_of(st.binary(max_size=300), JSONISH.map(lambda v: json.dumps(v).encode()),
                 FIELDS.map(lambda v: json.dumps(v).encode())))
def test_garbage_only_ever_raises_documented_errors(body):
    try:
        ADAPTER.parse("pos", {}, body)
    except OmoError as error:
        assert error.status in (400, 422) and error.message


@given(st.sampled_from(["0933-128-765", "+886 933 128 765", None]), st.integers(0, 10**9), st.booleans())
def test_valid_events_round_trip_through_the_queue_format(phone, total, batched):
    event = sample("canonical/pos-order-created.json")
    event["customer"]["phone"] = phone
    event["order"]["total"] = total
    body = json.dumps({"events": [event]} if batched else event).encode()
    (parsed,) = ADAPTER.parse("pos", {}, body)
    assert CanonicalEvent.model_validate_json(parsed.model_dump_json()) == parsed
    assert parsed.source == "pos"
