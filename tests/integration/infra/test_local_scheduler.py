"""A campaign's schedule, created as in AWS, is fired by the local scheduler at its time."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from infra.scheduler import LocalScheduler
from omo2c import wiring as services
from tests.support.events import sample


class RecordingHost:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def invoke(self, function: str, event: dict) -> dict:
        self.calls.append((function, event))
        return {}


def test_the_campaign_schedule_fires_the_planner_with_its_input(aws):
    campaign = services.campaign_service().create(sample("notify/campaign.json") | {"schedule": "rate(5 minutes)"})
    names = SimpleNamespace(template=SimpleNamespace(schedule_groups={"CampaignScheduleGroup": {}}),
                            ref=lambda _: "t-campaigns",
                            function_for_arn=lambda arn: "CampaignPlannerFunction" if arn.endswith(":planner")
                            else None)
    host = RecordingHost()
    scheduler = LocalScheduler(host, names, threading.Event())
    now = datetime.now(tz=UTC)
    assert scheduler.tick(now) == 0
    assert scheduler.tick(now + timedelta(minutes=6)) == 1
    assert host.calls == [("CampaignPlannerFunction", {"campaign_id": campaign.campaign_id})]
