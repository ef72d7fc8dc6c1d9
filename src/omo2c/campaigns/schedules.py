"""One EventBridge Scheduler schedule per scheduled campaign, targeting the planner; journeys have none."""

from __future__ import annotations

import json
from typing import Any

from omo2c.campaigns.model import Campaign
from omo2c.core.aws import client
from omo2c.core.settings import Settings


class CampaignSchedules:
    """Created with the campaign, changed with it, disabled while it is paused, deleted when it is archived."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @staticmethod
    def _name(campaign_id: str) -> str:
        return f"campaign-{campaign_id}"

    def _definition(self, campaign: Campaign) -> dict[str, Any]:
        return dict(
            Name=self._name(campaign.campaign_id), GroupName=self.settings.schedule_group,
            ScheduleExpression=campaign.schedule, ScheduleExpressionTimezone=campaign.time_zone,
            FlexibleTimeWindow={"Mode": "OFF"}, State="ENABLED" if campaign.status == "active" else "DISABLED",
            Description=campaign.name[:512],
            Target={"Arn": self.settings.planner_arn, "RoleArn": self.settings.scheduler_role_arn,
                    "Input": json.dumps({"campaign_id": campaign.campaign_id}),
                    "DeadLetterConfig": {"Arn": self.settings.schedule_dlq_arn},
                    "RetryPolicy": {"MaximumRetryAttempts": 5, "MaximumEventAgeInSeconds": 3600}})

    def schedule(self, campaign: Campaign) -> None:
        client("scheduler").create_schedule(**self._definition(campaign))

    def update(self, before: Campaign, after: Campaign) -> None:
        """The schedule as ``after`` says: changed, created (a journey got a schedule), or removed."""
        if after.schedule is None or after.status == "archived":
            if before.schedule is not None:
                self.remove(after.campaign_id)
            return
        if before.schedule is None:
            self.schedule(after)
            return
        try:
            client("scheduler").update_schedule(**self._definition(after))
        except client("scheduler").exceptions.ResourceNotFoundException:
            self.schedule(after)

    def remove(self, campaign_id: str) -> None:
        scheduler = client("scheduler")
        try:
            scheduler.delete_schedule(Name=self._name(campaign_id), GroupName=self.settings.schedule_group)
        except scheduler.exceptions.ResourceNotFoundException:
            return
