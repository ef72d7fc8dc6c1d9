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


def test_the_template_schedules_fire_their_functions_with_a_scheduler_event(aws):
    host = RecordingHost()
    scheduler = LocalScheduler(host, aws["stack"].names, threading.Event())
    now = datetime(2026, 12, 1, 0, 1, tzinfo=UTC)
    scheduler.tick(now)
    scheduler.tick(now + timedelta(minutes=16))
    assert [(function, event["source"]) for function, event in host.calls] == [
        ("JourneyRunnerFunction", "aws.scheduler")]
    scheduler.tick(datetime(2026, 12, 31, 19, 5, tzinfo=UTC))  # 1 January 03:05 in Taipei: the tier review too
    assert {function for function, _ in host.calls} == {"JourneyRunnerFunction", "TierReviewFunction"}
