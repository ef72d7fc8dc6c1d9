"""The campaigns admin API's shapes: the definition it takes (``CampaignIn``), runs and reports it answers.

Response shapes forbid extra keys, so a view that grows a field without its model fails the tests
instead of silently dropping the field from the answer.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from omo2c.campaigns.model import Campaign, CampaignIn, CampaignPatch, Channel, Status
from omo2c.coupons.api_models import CouponCounts

__all__ = ["Campaign", "CampaignId", "CampaignIn", "CampaignList", "CampaignPatch", "CampaignReport", "RunIn",
           "RunPreview", "RunStarted"]

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


class CampaignKpis(_Shape):
    selected: int = Field(description="Members the run selected (a journey: members it reached for).")
    sent: int
    failed: int
    sending: int = Field(description="Claimed and not yet settled (a send in flight, or one to retry).")
    skipped: dict[str, int] = Field(description="Members left out, per reason (`unsubscribed`, `frequency_cap` …).")
    blocked: int = Field(description="LINE: members who unfollowed within the blocked window after the send.")
    clicks: int = Field(description="Clicks on the message's counted links (bots not included).")
    bot_clicks: int
    unsubscribed: int
    bounced: int
    complained: int
    conversions: int = Field(description="Orders within the conversion window whose last touch was this run.")
    converted_members: int
    revenue: str
    conversion_rate: float | None = Field(description="Converted members / members sent to.")
    repurchase_rate: float | None = Field(description="The same among members who had ordered before.")


class RunReport(CampaignKpis):
    run_id: str
    started_at: str
    trigger: str
    sent_by_channel: dict[str, int]
    channels: dict[str, CampaignKpis] = Field(description="The same figures per channel.")


class CampaignReport(_Shape):
    campaign_id: str
    name: str
    status: Status
    totals: CampaignKpis = Field(description="Every run together.")
    runs: list[RunReport]
    coupons: CouponCounts = Field(description="The campaign's own coupon codes (`coupon_template_id`), over every run.")
