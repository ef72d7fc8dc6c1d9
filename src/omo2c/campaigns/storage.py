"""Campaigns, runs, sends and conversions in the campaigns table.

pk=CAMPAIGNS, sk=CAMPAIGN#<id>: definitions (listed by one query). pk=CAMPAIGN#<id>,
sk=RUN#<run>: run summaries. pk=RUN#<campaign>#<run>, sk=MEMBER#<id>: one send per member
per run (the conditional put is the dedupe); sk=CONVERSION#<source>#<order>: conversions.
Sends carry ``member_id``/``sent_at`` for the ByMemberSends index: frequency caps and last touch.
Tag and tier audiences are read from the members table through :class:`omo2c.tags.storage.TagStore`.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cached_property
from typing import Any

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from omo2c.campaigns.model import Campaign, SendRecord
from omo2c.core.dynamo import DecimalAttribute, configure
from omo2c.core.settings import Settings
from omo2c.members.model import Member
from omo2c.tags.storage import TagStore


class _CampaignsTable(Model):
    class Meta:
        table_name = "omo2c-campaigns"
        region = "ap-northeast-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class CampaignItem(_CampaignsTable):
    campaign_id = UnicodeAttribute()
    definition = UnicodeAttribute()
    created_at = UnicodeAttribute()


class RunItem(_CampaignsTable):
    run_id = UnicodeAttribute()
    started_at = UnicodeAttribute()
    trigger = UnicodeAttribute()
    selected = NumberAttribute(default=0)
    items_read = NumberAttribute(default=0)
    jobs = NumberAttribute(default=0)
    planned = MapAttribute(default=dict)
    skipped = MapAttribute(default=dict)


class ByMemberSends(GlobalSecondaryIndex["SendItem"]):
    class Meta:
        index_name = "ByMemberSends"
        projection = AllProjection()

    member_id = UnicodeAttribute(hash_key=True)
    sent_at = UnicodeAttribute(range_key=True)


class SendItem(_CampaignsTable):
    campaign_id = UnicodeAttribute()
    run_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    channel = UnicodeAttribute(null=True)
    status = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    job_id = UnicodeAttribute(null=True)
    provider_message_id = UnicodeAttribute(null=True)
    sent_at = UnicodeAttribute(null=True)
    kind = UnicodeAttribute(default="campaign")
    by_member = ByMemberSends()


class ConversionItem(_CampaignsTable):
    member_id = UnicodeAttribute()
    source = UnicodeAttribute()
    order_id = UnicodeAttribute()
    revenue = DecimalAttribute()
    currency = UnicodeAttribute()
    at = UnicodeAttribute()


CAMPAIGN_MODELS = (CampaignItem, RunItem, SendItem, ConversionItem)


def _send(item: SendItem) -> SendRecord:
    return SendRecord(item.campaign_id, item.run_id, item.member_id, item.channel, item.status, item.kind,
                      item.reason, item.job_id, item.provider_message_id, item.sent_at)


class CampaignStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        configure(self.settings, CAMPAIGN_MODELS, self.settings.campaigns_table)

    # ------------------------------------------------------------------ audiences
    @cached_property
    def _audiences(self) -> TagStore:
        return TagStore(self.settings)

    def tag_audience(self, tags: list[str]) -> tuple[list[str], int]:
        """Member ids carrying any of the tags, from their audience items (16 shards each); items read."""
        ids: list[str] = []
        for tag in tags:
            ids += self._audiences.audience("tag", tag)
        return list(dict.fromkeys(ids)), len(ids)

    def tier_members(self, tiers: list[str]) -> tuple[list[Member], int]:
        """Members in any of the tiers, whole from the ByTier index; items read."""
        members = [m for tier in dict.fromkeys(tiers) for m in self._audiences.tier_members(tier)]
        return members, len(members)

    # ------------------------------------------------------------------ definitions
    def put_campaign(self, campaign: Campaign) -> None:
        CampaignItem("CAMPAIGNS", f"CAMPAIGN#{campaign.campaign_id}", campaign_id=campaign.campaign_id,
                     definition=campaign.model_dump_json(), created_at=campaign.created_at).save(
            condition=CampaignItem.pk.does_not_exist())

    def campaign(self, campaign_id: str) -> Campaign | None:
        try:
            item = CampaignItem.get("CAMPAIGNS", f"CAMPAIGN#{campaign_id}")
        except CampaignItem.DoesNotExist:
            return None
        return Campaign.model_validate_json(item.definition)

    def campaigns(self) -> list[Campaign]:
        return [Campaign.model_validate_json(i.definition)
                for i in CampaignItem.query("CAMPAIGNS", CampaignItem.sk.startswith("CAMPAIGN#"))]

    def put_run(self, campaign_id: str, run: dict[str, Any]) -> None:
        RunItem(f"CAMPAIGN#{campaign_id}", f"RUN#{run['run_id']}", run_id=run["run_id"],
                started_at=run["started_at"], trigger=run["trigger"], selected=run["selected"],
                items_read=run["items_read"], jobs=run["jobs"], planned=run["planned"],
                skipped=run["skipped"]).save()

    def runs(self, campaign_id: str) -> list[dict[str, Any]]:
        return [{"run_id": i.run_id, "started_at": i.started_at, "trigger": i.trigger, "selected": int(i.selected),
                 "items_read": int(i.items_read), "jobs": int(i.jobs),
                 "planned": {k: int(v) for k, v in i.planned.as_dict().items()},
                 "skipped": {k: int(v) for k, v in i.skipped.as_dict().items()}}
                for i in RunItem.query(f"CAMPAIGN#{campaign_id}", RunItem.sk.startswith("RUN#"))]

    def claim(self, record: SendRecord) -> bool:
        """The send's dedupe: one row per member per run; the same job may re-claim its own row."""
        try:
            self._item(record).save(condition=SendItem.pk.does_not_exist()
                                    | ((SendItem.job_id == record.job_id) & (SendItem.status == "sending")))
        except PutError:
            return False
        return True

    def settle(self, record: SendRecord) -> None:
        self._item(record).save()

    def note_skip(self, record: SendRecord) -> None:
        try:
            self._item(record).save(condition=SendItem.pk.does_not_exist())
        except PutError:
            return

    @staticmethod
    def _item(record: SendRecord) -> SendItem:
        return SendItem(f"RUN#{record.campaign_id}#{record.run_id}", f"MEMBER#{record.member_id}",
                        campaign_id=record.campaign_id, run_id=record.run_id, member_id=record.member_id,
                        channel=record.channel, status=record.status, reason=record.reason, job_id=record.job_id,
                        provider_message_id=record.provider_message_id, sent_at=record.sent_at, kind=record.kind)

    def recent_sends(self, member_id: str, since: str) -> int:
        return SendItem.by_member.count(member_id, SendItem.sent_at >= since)

    def sends_before(self, member_id: str, since: str, until: str) -> list[SendRecord]:
        items = SendItem.by_member.query(member_id, SendItem.sent_at.between(since, until), scan_index_forward=False)
        return [_send(i) for i in items]

    def add_conversion(self, campaign_id: str, run_id: str, member_id: str, source: str, order_id: str,
                       revenue: Decimal, currency: str, at: str) -> bool:
        try:
            ConversionItem(f"RUN#{campaign_id}#{run_id}", f"CONVERSION#{source}#{order_id}", member_id=member_id,
                           source=source, order_id=order_id, revenue=revenue, currency=currency, at=at).save(
                condition=ConversionItem.pk.does_not_exist())
        except PutError:
            return False
        return True

    def run_rows(self, campaign_id: str, run_id: str) -> tuple[list[SendRecord], list[dict[str, Any]]]:
        sends, conversions = [], []
        start = None
        while True:
            page = SendItem._get_connection().query(f"RUN#{campaign_id}#{run_id}", exclusive_start_key=start)
            for raw in page.get("Items", []):
                if raw["sk"]["S"].startswith("MEMBER#"):
                    sends.append(_send(SendItem.from_raw_data(raw)))
                else:
                    item = ConversionItem.from_raw_data(raw)
                    conversions.append({"order": f"{item.source}/{item.order_id}", "revenue": item.revenue,
                                        "currency": item.currency})
            start = page.get("LastEvaluatedKey")
            if not start:
                return sends, conversions

