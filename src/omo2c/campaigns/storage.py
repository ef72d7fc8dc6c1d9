"""Campaigns, runs, sends and conversions in the campaigns table.

pk=CAMPAIGNS, sk=CAMPAIGN#<id>: definitions (listed by one query). pk=CAMPAIGN#<id>,
sk=RUN#<run>: run summaries. pk=RUN#<campaign>#<run>, sk=MEMBER#<id>: one send per member
per run (the conditional put is the dedupe); sk=CONVERSION#<source>#<order>: conversions;
sk=FEEDBACK#<kind>#<member>: unsubscribes, bounces, complaints and blocks charged to the run.
Sends carry ``member_id``/``sent_at`` for the ByMemberSends index: frequency caps and last touch.
Journeys that wait: pk=DUE#<hour (UTC)>, sk=<due at>#<campaign>#<member> — read hour by hour from a
cursor (pk=JOURNEYS, sk=CURSOR), never scanned; pk=JOURNEYS, sk=BIRTHDAYS#<campaign>#<day>: a day's
birthdays were queued.
Tag and tier audiences are read from the members table through :class:`omo2c.tags.storage.TagStore`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any

from pynamodb.attributes import BooleanAttribute, MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError, PutError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from omo2c.campaigns.model import Campaign, SendRecord
from omo2c.core.dynamo import Brief, DecimalAttribute, configure
from omo2c.core.errors import Conflict
from omo2c.core.settings import Settings
from omo2c.members.model import Member
from omo2c.tags.storage import TagStore

JOURNEYS_TTL_SECONDS = 60


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
    journey = BooleanAttribute(default=False)  # a trigger's day (or year): its members are its send rows


class DueItem(_CampaignsTable):
    campaign_id = UnicodeAttribute()
    member_id = UnicodeAttribute()
    run_id = UnicodeAttribute()
    due_at = UnicodeAttribute()
    expires_at = NumberAttribute()


class JourneyMarkItem(_CampaignsTable):
    at = UnicodeAttribute()


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
    prior_orders = NumberAttribute(null=True)
    by_member = ByMemberSends()


class FeedbackItem(_CampaignsTable):
    """What a member did about one run's message: ``unsubscribed``, ``bounced``, ``complained`` (e-mail) or
    ``blocked`` (LINE unfollow soon after); one per member, kind and run."""

    member_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    channel = UnicodeAttribute()
    at = UnicodeAttribute()


class ConversionItem(_CampaignsTable):
    member_id = UnicodeAttribute()
    source = UnicodeAttribute()
    order_id = UnicodeAttribute()
    revenue = DecimalAttribute()
    currency = UnicodeAttribute()
    at = UnicodeAttribute()
    channel = UnicodeAttribute(null=True)
    repeat = BooleanAttribute(default=False)  # the member had ordered before the message


CAMPAIGN_MODELS = (CampaignItem, RunItem, SendItem, FeedbackItem, ConversionItem, DueItem, JourneyMarkItem)
DUE_TTL_DAYS = 60


def _send(item: SendItem) -> SendRecord:
    return SendRecord(item.campaign_id, item.run_id, item.member_id, item.channel, item.status, item.kind,
                      item.reason, item.job_id, item.provider_message_id, item.sent_at,
                      int(item.prior_orders) if item.prior_orders is not None else None)


def _hour(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H")


@dataclass(frozen=True)
class Due:
    """A journey send waiting for its moment."""

    campaign_id: str
    member_id: str
    run_id: str
    due_at: datetime


class CampaignStore:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        configure(self.settings, CAMPAIGN_MODELS, self.settings.campaigns_table)
        self._journeys = Brief(JOURNEYS_TTL_SECONDS, self._read_journeys)

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
        self._journeys.forget()

    def replace_campaign(self, campaign: Campaign) -> None:
        """A changed definition of a campaign that exists (an archived one is never brought back by a change)."""
        try:
            CampaignItem("CAMPAIGNS", f"CAMPAIGN#{campaign.campaign_id}", campaign_id=campaign.campaign_id,
                         definition=campaign.model_dump_json(), created_at=campaign.created_at).save(
                condition=CampaignItem.pk.exists())
        except PutError as exc:
            raise Conflict("the campaign is gone") from exc
        finally:
            self._journeys.forget()

    def campaign(self, campaign_id: str) -> Campaign | None:
        try:
            item = CampaignItem.get("CAMPAIGNS", f"CAMPAIGN#{campaign_id}")
        except CampaignItem.DoesNotExist:
            return None
        return Campaign.model_validate_json(item.definition)

    def campaigns(self) -> list[Campaign]:
        return [Campaign.model_validate_json(i.definition)
                for i in CampaignItem.query("CAMPAIGNS", CampaignItem.sk.startswith("CAMPAIGN#"))]

    def journeys(self) -> list[Campaign]:
        """The active journeys (campaigns with a trigger), cached briefly: every member's moment asks, and
        listing them reads every campaign the brand has made. A change through this store shows at once;
        one made in another process, within :data:`JOURNEYS_TTL_SECONDS`."""
        return self._journeys.get()

    def _read_journeys(self) -> list[Campaign]:
        return [c for c in self.campaigns() if c.status == "active" and c.trigger is not None]

    def put_run(self, campaign_id: str, run: dict[str, Any]) -> None:
        RunItem(f"CAMPAIGN#{campaign_id}", f"RUN#{run['run_id']}", run_id=run["run_id"],
                started_at=run["started_at"], trigger=run["trigger"], selected=run["selected"],
                items_read=run["items_read"], jobs=run["jobs"], planned=run["planned"],
                skipped=run["skipped"], journey=bool(run.get("journey"))).save()

    def open_journey_run(self, campaign_id: str, run_id: str, started_at: str, trigger: str) -> None:
        """A journey's run (its day, or its year for birthdays) exists once; later members only add send rows."""
        try:
            RunItem(f"CAMPAIGN#{campaign_id}", f"RUN#{run_id}", run_id=run_id, started_at=started_at,
                    trigger=trigger, journey=True).save(condition=RunItem.pk.does_not_exist())
        except PutError:
            return

    def runs(self, campaign_id: str) -> list[dict[str, Any]]:
        return [{"run_id": i.run_id, "started_at": i.started_at, "trigger": i.trigger, "selected": int(i.selected),
                 "items_read": int(i.items_read), "jobs": int(i.jobs),
                 "planned": {k: int(v) for k, v in i.planned.as_dict().items()},
                 "skipped": {k: int(v) for k, v in i.skipped.as_dict().items()}, "journey": bool(i.journey)}
                for i in RunItem.query(f"CAMPAIGN#{campaign_id}", RunItem.sk.startswith("RUN#"))]

    # ------------------------------------------------------------------ journeys that wait
    def add_due(self, due: Due) -> None:
        """Idempotent: the same moment of the same member and campaign is one item."""
        at = due.due_at.astimezone(UTC)
        DueItem(f"DUE#{_hour(at)}", f"{at.isoformat()}#{due.campaign_id}#{due.member_id}",
                campaign_id=due.campaign_id, member_id=due.member_id, run_id=due.run_id, due_at=at.isoformat(),
                expires_at=int((at + timedelta(days=DUE_TTL_DAYS)).timestamp())).save()

    def due_cursor(self) -> datetime | None:
        try:
            return datetime.fromisoformat(JourneyMarkItem.get("JOURNEYS", "CURSOR").at)
        except JourneyMarkItem.DoesNotExist:
            return None

    def set_due_cursor(self, hour: datetime) -> None:
        JourneyMarkItem("JOURNEYS", "CURSOR", at=hour.isoformat()).save()

    def due(self, hour: datetime, until: datetime) -> list[Due]:
        """The hour's waiting sends due by ``until``, oldest first."""
        items = DueItem.query(f"DUE#{_hour(hour)}", DueItem.sk <= f"{until.astimezone(UTC).isoformat()}~")
        return [Due(i.campaign_id, i.member_id, i.run_id, datetime.fromisoformat(i.due_at)) for i in items]

    def done(self, due: Due) -> None:
        at = due.due_at.astimezone(UTC)
        try:
            DueItem(f"DUE#{_hour(at)}", f"{at.isoformat()}#{due.campaign_id}#{due.member_id}").delete()
        except DeleteError:
            return

    def birthdays_queued(self, campaign_id: str, day: str) -> bool:
        try:
            JourneyMarkItem.get("JOURNEYS", f"BIRTHDAYS#{campaign_id}#{day}")
        except JourneyMarkItem.DoesNotExist:
            return False
        return True

    def mark_birthdays_queued(self, campaign_id: str, day: str, at: str) -> None:
        JourneyMarkItem("JOURNEYS", f"BIRTHDAYS#{campaign_id}#{day}", at=at).save()

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
                        provider_message_id=record.provider_message_id, sent_at=record.sent_at, kind=record.kind,
                        prior_orders=record.prior_orders)

    def recent_sends(self, member_id: str, since: str) -> int:
        return SendItem.by_member.count(member_id, SendItem.sent_at >= since)

    def sends_before(self, member_id: str, since: str, until: str) -> list[SendRecord]:
        items = SendItem.by_member.query(member_id, SendItem.sent_at.between(since, until), scan_index_forward=False)
        return [_send(i) for i in items]

    def add_conversion(self, campaign_id: str, run_id: str, member_id: str, source: str, order_id: str,
                       revenue: Decimal, currency: str, at: str, channel: str | None = None,
                       repeat: bool = False) -> bool:
        try:
            ConversionItem(f"RUN#{campaign_id}#{run_id}", f"CONVERSION#{source}#{order_id}", member_id=member_id,
                           source=source, order_id=order_id, revenue=revenue, currency=currency, at=at,
                           channel=channel, repeat=repeat).save(condition=ConversionItem.pk.does_not_exist())
        except PutError:
            return False
        return True

    def note_feedback(self, campaign_id: str, run_id: str, member_id: str, kind: str, channel: str, at: str) -> bool:
        """Once per member, kind and run (a redelivered bounce or a second click counts nothing more)."""
        try:
            FeedbackItem(f"RUN#{campaign_id}#{run_id}", f"FEEDBACK#{kind}#{member_id}", member_id=member_id, kind=kind,
                         channel=channel, at=at).save(condition=FeedbackItem.pk.does_not_exist())
        except PutError:
            return False
        return True

    def run_rows(self, campaign_id: str, run_id: str) -> RunRows:
        """Everything one run's partition holds, read page by page in one query."""
        rows = RunRows()
        start = None
        while True:
            page = SendItem._get_connection().query(f"RUN#{campaign_id}#{run_id}", exclusive_start_key=start)
            for raw in page.get("Items", []):
                sk = raw["sk"]["S"]
                if sk.startswith("MEMBER#"):
                    rows.sends.append(_send(SendItem.from_raw_data(raw)))
                elif sk.startswith("FEEDBACK#"):
                    feedback = FeedbackItem.from_raw_data(raw)
                    rows.feedback.append({"member_id": feedback.member_id, "kind": feedback.kind,
                                          "channel": feedback.channel})
                elif sk.startswith("CONVERSION#"):
                    item = ConversionItem.from_raw_data(raw)
                    rows.conversions.append({"order": f"{item.source}/{item.order_id}", "revenue": item.revenue,
                                             "currency": item.currency, "member_id": item.member_id,
                                             "channel": item.channel, "repeat": bool(item.repeat)})
            start = page.get("LastEvaluatedKey")
            if not start:
                return rows


@dataclass
class RunRows:
    sends: list[SendRecord] = field(default_factory=list)
    conversions: list[dict[str, Any]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)

