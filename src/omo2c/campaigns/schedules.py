"""One EventBridge Scheduler schedule per campaign, targeting the planner."""

from __future__ import annotations

import json

from omo2c.campaigns.model import Campaign
from omo2c.core.aws import client
from omo2c.core.settings import Settings


class CampaignSchedules:
    """One EventBridge Scheduler schedule per campaign, targeting the planner."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def schedule(self, campaign: Campaign) -> None:
        client("scheduler").create_schedule(
            Name=f"campaign-{campaign.campaign_id}", GroupName=self.settings.schedule_group,
            ScheduleExpression=campaign.schedule, ScheduleExpressionTimezone=campaign.time_zone,
            FlexibleTimeWindow={"Mode": "OFF"}, State="ENABLED",
            Description=campaign.name[:512],
            Target={"Arn": self.settings.planner_arn, "RoleArn": self.settings.scheduler_role_arn,
                    "Input": json.dumps({"campaign_id": campaign.campaign_id}),
                    "DeadLetterConfig": {"Arn": self.settings.schedule_dlq_arn},
                    "RetryPolicy": {"MaximumRetryAttempts": 5, "MaximumEventAgeInSeconds": 3600}})
