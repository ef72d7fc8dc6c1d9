"""Where campaigns meet AWS: the send queue, EventBridge Scheduler, members and names."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from omo2c.campaigns.model import Campaign
from omo2c.core.aws import client
from omo2c.core.settings import Settings
from omo2c.members.model import ACTIVITY_SHARDS, Member

SEND_BATCH = 10


class SendQueue:
    def __init__(self, queue_url: str) -> None:
        self.queue_url = queue_url

    def enqueue(self, jobs: list[dict[str, Any]], delay_seconds: int = 0) -> None:
        sqs = client("sqs")
        for start in range(0, len(jobs), SEND_BATCH):
            entries = [{"Id": str(i), "MessageBody": json.dumps(job, ensure_ascii=False),
                        "DelaySeconds": delay_seconds} for i, job in enumerate(jobs[start:start + SEND_BATCH])]
            response = sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            failed = response.get("Failed") or []
            if failed:
                retry = [entries[int(f["Id"])] for f in failed]
                if sqs.send_message_batch(QueueUrl=self.queue_url, Entries=retry).get("Failed"):
                    raise RuntimeError("the send queue refused jobs")


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


class MemberSource:
    def select(self, ranges: list[tuple[str, str]]) -> tuple[list[Member], int]:
        from omo2c import wiring as services

        return services.member_store().by_last_order_day(ranges, ACTIVITY_SHARDS)

    def many(self, member_ids: list[str]) -> dict[str, Member]:
        """Each requested id to its live member (merged ids lead to the survivor)."""
        from omo2c import wiring as services

        found = services.member_store().members(set(member_ids))
        out = {}
        for member_id in member_ids:
            member = found.get(member_id)
            hops = 0
            while member is not None and not member.live and member.merged_into and hops < 16:
                member, hops = found.get(member.merged_into), hops + 1
            if member is not None and member.live:
                out[member_id] = member
        return out


class StaffNames:
    @lru_cache(maxsize=1024)  # noqa: B019 - one instance per process; names change rarely
    def staff_name(self, staff_id: str | None) -> str | None:
        from omo2c import wiring as services

        staff = services.staff_directory().staff(staff_id) if staff_id else None
        return staff.name if staff else None

    @lru_cache(maxsize=256)  # noqa: B019 - one instance per process
    def store_name(self, store_id: str | None) -> str | None:
        from omo2c import wiring as services

        store = services.staff_directory().store(store_id) if store_id else None
        return store.name if store else None
