"""The first POS order's store in the members table: exact under reordering, on both resolver paths."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from omo2c import wiring
from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.members.model import FirstPosOrder, home_store
from omo2c.sources.canonical import CanonicalEvent
from tests.support.events import pos_order

PHONE = Identifier(IdentifierKind.PHONE, "+886955313414")


def sale(event_id: str, day: int, store_id: str, hour: int = 10, channel: str = "pos") -> dict:
    raw = pos_order(event_id, phone="0955-313-414", order_id=f"O-{event_id}",
                    occurred_at=f"2026-11-{day:02d}T{hour:02d}:00:00+08:00")
    return {**raw, "store_id": store_id, "channel": channel, "source": channel}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_earliest_pos_sale_decides_in_any_delivery_order(aws, seed):
    events = [sale("a", 7, "ST07"), sale("b", 3, "ST03"), sale("tie", 3, "ST02"), sale("c", 9, "ST09"),
              sale("web", 1, "ST01", channel="ec"), sale("b", 3, "ST03")]
    random.Random(seed).shuffle(events)
    for raw in events:
        wiring.production().resolver.record(CanonicalEvent.model_validate(raw))
    member = wiring.production().members.find_by_identifier(PHONE)
    at = int(datetime(2026, 11, 3, 2, tzinfo=UTC).timestamp() * 1000)
    assert member.first_pos_order == FirstPosOrder(at, "ST02")
    assert home_store(member, None) == "ST02"


def test_a_store_campaign_reaches_the_stores_customers_who_never_bound_in_line(aws):
    now = datetime.now(tz=UTC)
    for n, store_id in ((1, "ST02"), (2, "ST05")):
        raw = pos_order(f"h-{n}", phone=f"0955-313-50{n}", order_id=f"H{n}",
                        occurred_at=(now - timedelta(days=3)).isoformat())
        wiring.production().resolver.record(CanonicalEvent.model_validate({**raw, "store_id": store_id,
                                                                           "source": "pos"}))
    service = wiring.production().campaign_service
    campaign = service.create({"name": "ST02 tasting", "segment": {"store_ids": ["ST02"]}, "message": "{name}",
                               "channels": ["sms"], "schedule": "rate(7 days)", "quiet_hours": []})
    preview = service.run(campaign.campaign_id, dry_run=True)
    assert preview["selected"] == 1 and preview["members_per_channel"] == {"sms": 1}
