"""The campaigns admin API's shapes: the definition it takes (``CampaignIn``), runs and reports it answers.

Response shapes forbid extra keys, so a view that grows a field without its model fails the tests
instead of silently dropping the field from the answer.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from omo2c.campaigns.model import Campaign, CampaignIn, Channel
from omo2c.coupons.api_models import CouponCounts

__all__ = ["Campaign", "CampaignId", "CampaignIn", "CampaignList", "CampaignReport", "RunIn", "RunPreview",
           "RunStarted"]

CampaignId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_\-]*$")]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunIn(_Shape):
    dry_run: StrictBool = Field(default=False, description="Preview only: nothing is queued or sent.")


class CampaignList(_Shape):
    campaigns: list[Campaign]


class Sample(_Shape):
    member_id: str
    channel: Channel
    text: str


class _RunSummary(_Shape):
    campaign_id: str
    selected: int = Field(description="Members in the segment now.")
    items_read: int
    members_per_channel: dict[str, int]
    skipped: dict[str, int] = Field(description="Members left out, per reason.")
    sms_segments: int
    estimated_sms_cost_usd: str


class RunPreview(_RunSummary):
    dry_run: Literal[True]
    samples: list[Sample] = Field(description="Up to three rendered messages.")


class RunStarted(_RunSummary):
    run_id: str
    jobs: int = Field(description="Send jobs queued.")


class RunReport(_Shape):
    run_id: str
    started_at: str
    trigger: str
    selected: int
    sent: int
    sending: int
    failed: int
    skipped: dict[str, int]
    sent_by_channel: dict[str, int]
    conversions: int
    revenue: str


class CampaignReport(_Shape):
    campaign_id: str
    runs: list[RunReport]
    coupons: CouponCounts = Field(description="The campaign's own coupon codes (`coupon_template_id`), over every run.")
