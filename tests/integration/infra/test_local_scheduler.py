"""A campaign's schedule, created as in AWS, is fired by the local scheduler at its time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from infra.scheduler import LocalScheduler
from omo2c import wiring
from tests.support.events import sample


class RecordingHost:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def invoke(self, function: str, event: dict) -> dict:
        self.calls.append((function, event))
        return {}


def test_the_campaign_schedule_fires_the_planner_with_its_input(aws):
    campaign = wiring.production().campaign_service.create(
        sample("notify/campaign.json") | {"schedule": "rate(5 minutes)"})
    host = RecordingHost()
    scheduler = LocalScheduler(host, aws["stack"].names, threading.Event())
    now = datetime.now(tz=UTC)
    assert scheduler.tick(now) == 0
    assert scheduler.tick(now + timedelta(minutes=6)) == 1
    assert host.calls == [("CampaignPlannerFunction", {"campaign_id": campaign.campaign_id})]
