"""Campaigns end to end: define, plan (select + group), send under the rules, count conversions.

The planner reads members through the activity index and enqueues send jobs: members whose
rendered LINE text is identical share one multicast job (≤ 500), anything personal is one
job per member. The sender re-checks every rule at send time, in order: consent, quiet hours
(deferred through the queue, never dropped), frequency cap, the rendered text's length (over
LINE's or SMS's limit the member is skipped as ``message_too_long``, never cut), one send per
member per run (a conditional write before the provider is called). A retried job re-claims
its own rows and reuses its LINE retry key, so LINE never delivers twice.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import ValidationError

from omo2c.binding.model import BindingPolicy, active
from omo2c.campaigns.model import Campaign, CampaignIn, CampaignPatch, Segment, SendJob, SendRecord
from omo2c.campaigns.rules import (
    choose_channel,
    day_ranges,
    length_problem,
    links_in,
    matches,
    quiet_until,
    render,
    sms_cost,
    sms_text,
    with_links,
)
from omo2c.channels.email import EmailMessage, EmailRejected, EmailSender, html_document
from omo2c.channels.line import LineMessenger, LineRejected
from omo2c.channels.sms import SmsSender, segments
from omo2c.core.errors import Conflict, InvalidEvent, NotFound, OmoError
from omo2c.core.observability import logger
from omo2c.coupons.model import SAMPLE_CODE
from omo2c.events import (
    BusEvent,
    CampaignConverted,
    MemberBound,
    MemberCreated,
    MemberLineUnfollowed,
    MemberTierChanged,
    OrderRecorded,
)
from omo2c.members.model import Member, home_store

if TYPE_CHECKING:
    from omo2c.campaigns.journeys import Journeys

MULTICAST_LIMIT = 500
MAX_DELAY_SECONDS = 900
TRIGGERS = {"welcome_sms": "trigger-welcome-sms", "staff_welcome": "trigger-staff-welcome",
            "tier_welcome": "trigger-tier-welcome"}
# A trigger's channels in order when not only its job's own: a tier welcome goes by LINE, else by SMS.
TRIGGER_CHANNELS = {"tier_welcome": ["line", "sms"]}


class Store(Protocol):
    def put_campaign(self, campaign: Campaign) -> None: ...
    def campaign(self, campaign_id: str) -> Campaign | None: ...
    def campaigns(self) -> list[Campaign]: ...
    def journeys(self) -> list[Campaign]: ...
    def put_run(self, campaign_id: str, run: dict[str, Any]) -> None: ...
    def runs(self, campaign_id: str) -> list[dict[str, Any]]: ...
    def claim(self, record: SendRecord) -> bool: ...
    def settle(self, record: SendRecord) -> None: ...
    def note_skip(self, record: SendRecord) -> None: ...
    def recent_sends(self, member_id: str, since: str) -> int: ...
    def sends_before(self, member_id: str, since: str, until: str) -> list[SendRecord]: ...
    def add_conversion(self, campaign_id: str, run_id: str, member_id: str, source: str, order_id: str,
                       revenue: Decimal, currency: str, at: str, channel: str | None = None,
                       repeat: bool = False) -> bool: ...
    def run_rows(self, campaign_id: str, run_id: str) -> Any: ...
    def replace_campaign(self, campaign: Campaign) -> None: ...
    def open_journey_run(self, campaign_id: str, run_id: str, started_at: str, trigger: str) -> None: ...
    def note_feedback(self, campaign_id: str, run_id: str, member_id: str, kind: str, channel: str,
                      at: str) -> bool: ...


class Members(Protocol):
    def by_last_order_day(self, ranges: list[tuple[str, str]]) -> tuple[list[Member], int]: ...
    def live_members(self, member_ids: list[str]) -> dict[str, Member]: ...
    def born_on(self, month_day: str) -> tuple[list[Member], int]: ...


class Names(Protocol):
    def staff_name(self, staff_id: str | None) -> str | None: ...
    def store_name(self, store_id: str | None) -> str | None: ...


class Jobs(Protocol):
    def enqueue(self, jobs: list[SendJob], delay_seconds: int = 0) -> None: ...


class Schedules(Protocol):
    def schedule(self, campaign: Campaign) -> None: ...
    def update(self, before: Campaign, after: Campaign) -> None: ...


class Links(Protocol):
    """Counted links: a campaign's URLs go out through the share-link redirect, one link per run and channel."""

    def campaign_link(self, campaign_id: str, run_id: str, channel: str, url: str) -> Any: ...
    def campaign_counts(self, codes: list[str]) -> dict[str, dict[str, int]]: ...


@runtime_checkable
class Audiences(Protocol):
    """Tag and tier audiences through their indexes (the campaign store has them; a store without reads days)."""

    def tag_audience(self, tags: list[str]) -> tuple[list[str], int]: ...
    def tier_members(self, tiers: list[str]) -> tuple[list[Member], int]: ...


class Coupons(Protocol):
    """Coupons for the messages that promise one: each member's own code, issued once per run and member."""

    def issue(self, member_id: str, template_id: str, issued_by: str, campaign_id: str | None = None, *,
              key: str | None = None) -> dict[str, Any]: ...
    def template(self, template_id: str) -> Any: ...
    def campaign_report(self, campaign_id: str) -> dict[str, Any]: ...


@dataclass
class Rules:
    quiet_hours: list[tuple[str, str]]
    cap_max: int
    cap_days: int
    brand: str
    sms_price: str
    welcome_coupon_template: str = ""  # the coupon template of a sign-up's welcome; none: no coupon line
    napl_window: int = 90
    binding: BindingPolicy = field(default_factory=BindingPolicy)
    tiers: dict[str, dict[str, Any]] = field(default_factory=dict)  # tier id -> its config (name, coupon template)
    email_from: str = ""  # no sender configured: e-mail members are skipped as email_unavailable
    unsubscribe_mailto: str = ""
    public_base: str = ""  # the configured public URL; a campaign keeps the one its API was reached at
    blocked_hours: int = 48


@dataclass
class Reach:
    """What sends beyond LINE and SMS need: e-mail, its unsubscribe links, counted links, the bus."""

    email: Callable[[], EmailSender] | None = None
    unsubscribe_token: Callable[[str, str, str], str] | None = None  # (member, campaign, run) -> token
    links: Links | None = None
    publish: Callable[[list[BusEvent]], None] | None = None


class CampaignService:
    def __init__(self, store: Store, members: Members, names: Names, jobs: Jobs, schedules: Schedules,
                 line: Callable[[], LineMessenger], sms: Callable[[], SmsSender], rules: Rules,
                 clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC), coupons: Coupons | None = None,
                 reach: Reach | None = None) -> None:
        self.store, self.members, self.names, self.jobs, self.schedules = store, members, names, jobs, schedules
        self.line, self.sms, self.rules, self.clock, self.coupons = line, sms, rules, clock, coupons
        self.reach = reach or Reach()
        self._short: dict[tuple[str, str, str], dict[str, str]] = {}

    # ------------------------------------------------------------------ definitions
    def create(self, body: CampaignIn | dict[str, Any], public_base: str = "") -> Campaign:
        """A new campaign and its schedule (a journey has none), from a validated definition."""
        data = CampaignIn.model_validate(body)
        self._fits_channels(data)
        self._coupon_template_exists(data)
        campaign = Campaign(**data.model_dump(), campaign_id=uuid.uuid4().hex[:16],
                            created_at=self.clock().isoformat(), public_base=public_base)
        self.store.put_campaign(campaign)
        if campaign.schedule is not None:
            self.schedules.schedule(campaign)
        return campaign

    def update(self, campaign_id: str, patch: CampaignPatch, public_base: str = "") -> Campaign:
        """The campaign with the given fields changed, validated whole; its schedule follows."""
        campaign = self._changeable(campaign_id)
        try:
            data = CampaignIn.model_validate(patch.applied_to(campaign))
        except ValidationError as exc:
            raise InvalidEvent("the changed campaign is not valid", [
                {"field": ".".join(str(p) for p in error["loc"]) or "body", "problem": error["msg"]}
                for error in exc.errors()]) from exc
        self._fits_channels(data)
        self._coupon_template_exists(data)
        return self._save(campaign, Campaign(**data.model_dump(), campaign_id=campaign.campaign_id,
                                             created_at=campaign.created_at, status=campaign.status,
                                             public_base=public_base or campaign.public_base))

    def set_status(self, campaign_id: str, status: str) -> Campaign:
        """Pause (its schedule disabled, its journey and queued sends held back), resume, or archive (its
        schedule deleted; its runs and reports stay). An archived campaign changes no more."""
        campaign = self._changeable(campaign_id)
        if campaign.status == status:
            return campaign
        return self._save(campaign, campaign.model_copy(update={"status": status}))

    def _changeable(self, campaign_id: str) -> Campaign:
        campaign = self.get(campaign_id)
        if campaign.status == "archived":
            raise Conflict("the campaign is archived; its reports stay, it changes no more")
        return campaign

    def _save(self, before: Campaign, after: Campaign) -> Campaign:
        after = after.model_copy(update={"updated_at": self.clock().isoformat()})
        self.store.replace_campaign(after)
        self.schedules.update(before, after)
        return after

    def _fits_channels(self, data: CampaignIn) -> None:
        """Refuse a template too long for a channel before any member fills it in (every send would be skipped)."""
        shortest = render(data.message, name=None, staff_name=None, store_name=None,
                          coupon=SAMPLE_CODE if data.coupon_template_id else data.coupon)
        for channel in data.channels:
            if problem := length_problem(shortest, channel, self.rules.brand):
                raise InvalidEvent(f"message is too long for {channel}",
                                   [{"field": "message", "problem": f"even with every name blank: {problem}"}])

    def _coupon_template_exists(self, data: CampaignIn) -> None:
        """A campaign promising each member a coupon names a template that exists (else every send would skip)."""
        if not data.coupon_template_id:
            return
        try:
            if self.coupons is None:
                raise NotFound("coupons are not available here")
            self.coupons.template(data.coupon_template_id)
        except NotFound as exc:
            raise InvalidEvent("no such coupon template", [{"field": "coupon_template_id",
                                                            "problem": "no coupon template has this id"}]) from exc

    def get(self, campaign_id: str) -> Campaign:
        campaign = self.store.campaign(campaign_id) if len(campaign_id) <= 64 else None
        if campaign is None:
            raise NotFound("no such campaign")
        return campaign

    # ------------------------------------------------------------------ planning
    def _text(self, campaign: Campaign, member: Member, coupon: str | None = None, channel: str | None = None,
              run_id: str | None = None, template: str | None = None) -> str:
        """Signed by the member's staff member while the binding counts, else by the brand. A campaign with a
        coupon template shows ``coupon`` (the member's own code), or a sample code as long while planning.
        With a run and channel, the message's URLs are the run's counted links."""
        binding = active(member.binding, self.clock(), self.rules.binding)
        text = template if template is not None else campaign.message
        if channel and run_id:
            text = with_links(text, self._links(campaign, run_id, channel))
        return render(text, name=member.profile_value("name"),
                      staff_name=(binding and self.names.staff_name(binding.staff_id)) or self.rules.brand,
                      store_name=self.names.store_name(binding.store_id) if binding else None,
                      coupon=coupon or (SAMPLE_CODE if campaign.coupon_template_id else campaign.coupon))

    def _base(self, campaign: Campaign) -> str:
        return (campaign.public_base or self.rules.public_base).rstrip("/")

    def _links(self, campaign: Campaign, run_id: str, channel: str) -> dict[str, str]:
        """URL -> its counted link for this run and channel, made once per process (creating one is idempotent)."""
        key = (campaign.campaign_id, run_id, channel)
        if key not in self._short:
            base, urls = self._base(campaign), links_in(campaign.message)
            if self.reach.links is None or not base or not urls:
                return {}
            if len(self._short) > 1000:
                self._short.clear()
            short = {}
            for url in urls:
                try:
                    short[url] = f"{base}/r/{self.reach.links.campaign_link(*key, url).code}"
                except InvalidEvent:
                    continue  # not a link a browser can open through the redirect: sent as written
            self._short[key] = short
        return self._short[key]

    def run(self, campaign_id: str, dry_run: bool = False, trigger: str = "manual") -> dict[str, Any]:
        campaign = self.get(campaign_id)
        if not dry_run and campaign.status != "active":
            raise Conflict(f"the campaign is {campaign.status}")
        if not dry_run and campaign.trigger is not None:
            raise Conflict("a journey runs on its trigger, not on demand (a dry run previews it)")
        now = self.clock()
        run_id = f"{now.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        members, items_read, in_tiers = self.select(campaign.segment, now)
        due = [m for m in members
               if matches(m, campaign.segment, now, self.rules.napl_window, self.rules.binding, in_tiers)]
        planned: Counter[str] = Counter()
        skipped: Counter[str] = Counter()
        line_groups: dict[str, list[str]] = defaultdict(list)
        sms: list[tuple[Member, str]] = []
        emails: list[Member] = []
        samples = []
        for member in due:
            choice = choose_channel(member, campaign.channels, member.opted_out)
            if choice.channel is None:
                skipped[choice.reason or "no_channel"] += 1
                continue
            text = self._text(campaign, member, None, None if dry_run else choice.channel, run_id)
            if length_problem(text, choice.channel, self.rules.brand):
                skipped["message_too_long"] += 1
                continue
            planned[choice.channel] += 1
            if len(samples) < 3:
                samples.append({"member_id": member.member_id, "channel": choice.channel, "text": text})
            if choice.channel == "line":
                line_groups[text].append(member.member_id)
            elif choice.channel == "sms":
                sms.append((member, sms_text(self.rules.brand, text)))
            else:
                emails.append(member)
        sms_segments = sum(segments(text) for _, text in sms)
        summary = {"campaign_id": campaign_id, "selected": len(due), "items_read": items_read,
                   "members_per_channel": dict(planned), "skipped": dict(skipped),
                   "sms_segments": sms_segments, "estimated_sms_cost_usd": str(sms_cost(sms_segments,
                                                                                        self.rules.sms_price))}
        if dry_run:
            return {**summary, "dry_run": True, "samples": samples}
        jobs = []
        for text, member_ids in line_groups.items():
            for start in range(0, len(member_ids), MULTICAST_LIMIT):
                jobs.append(self._job(campaign_id, run_id, "line", member_ids[start:start + MULTICAST_LIMIT], text))
        jobs += [self._job(campaign_id, run_id, "sms", [m.member_id], None) for m, _ in sms]
        jobs += [self._job(campaign_id, run_id, "email", [m.member_id], None) for m in emails]
        self.jobs.enqueue(jobs)
        self.store.put_run(campaign_id, {"run_id": run_id, "started_at": now.isoformat(), "trigger": trigger,
                                         "selected": len(due), "items_read": items_read, "jobs": len(jobs),
                                         "planned": dict(planned), "skipped": dict(skipped)})
        return {**summary, "run_id": run_id, "jobs": len(jobs)}

    def select(self, segment: Segment, now: datetime) -> tuple[list[Member], int, bool]:
        """The members a segment's index gives, the items read, and whether they came from the tier index.

        ``tiers``: the ByTier index, whole members (``tags`` then filter them); ``tags``: their audience
        items, then only those members (merged ids lead to the survivor, once); anything else: the day
        window of the activity index. Never a scan."""
        audiences = self.store if isinstance(self.store, Audiences) else None
        if audiences is not None and segment.tiers:
            members, read = audiences.tier_members(segment.tiers)
            return list({m.member_id: m for m in members}.values()), read, True
        if audiences is not None and segment.tags:
            ids, read = audiences.tag_audience(segment.tags)
            found = self.members.live_members(ids)
            return list({m.member_id: m for m in found.values()}.values()), read + len(found), False
        members, read = self.members.by_last_order_day(day_ranges(segment, now, self.rules.napl_window))
        return members, read, False

    @staticmethod
    def _job(campaign_id: str, run_id: str, channel: str, member_ids: list[str], text: str | None,
             kind: str = "campaign", trigger: str | None = None) -> SendJob:
        return SendJob(job_id=uuid.uuid4().hex, campaign_id=campaign_id, run_id=run_id, channel=channel,
                       member_ids=member_ids, text=text, kind=kind, trigger=trigger)

    # ------------------------------------------------------------------ sending
    def send(self, job: SendJob) -> dict[str, int]:
        """Send one job under every rule; raises LineUnavailable/SmsFailed for the queue to retry."""
        now = self.clock()
        if job.not_before and job.not_before > now:
            return self._defer(job, job.not_before, now)
        campaign = self.store.campaign(job.campaign_id) if job.kind == "campaign" else None
        if job.kind == "campaign" and campaign is None:
            return {"dropped": len(job.member_ids)}
        if campaign is not None and campaign.status != "active":
            return self._held(job, f"campaign_{campaign.status}")
        windows = campaign.quiet_hours if campaign and campaign.quiet_hours is not None else self.rules.quiet_hours
        zone = campaign.time_zone if campaign else "Asia/Taipei"
        until = quiet_until(now, windows, zone)
        if until is not None:
            return self._defer(job, until, now)
        cap_max = campaign.frequency_cap.max if campaign else self.rules.cap_max
        cap_days = campaign.frequency_cap.days if campaign else self.rules.cap_days
        channels = campaign.channels if campaign else TRIGGER_CHANNELS.get(job.trigger or "", [job.channel])
        offer = self._coupon_offer(campaign, job)
        members = self.members.live_members(job.member_ids)
        outcome: Counter[str] = Counter()
        ready: list[tuple[Member, SendRecord, str]] = []
        fallback: list[tuple[str, str]] = []
        for member_id in job.member_ids:
            member = members.get(member_id)
            record = SendRecord(job.campaign_id, job.run_id, member_id, job.channel, "skipped", job.kind,
                                job_id=job.job_id)
            choice = choose_channel(member, channels, member.opted_out) if member else None
            reason = None
            if member is None or choice is None or choice.channel is None:
                reason = (choice.reason if choice else None) or "member_gone"
            elif choice.channel != job.channel:
                fallback.append((member_id, choice.channel))
                continue
            elif job.channel == "email" and not self._email_ready(campaign):
                reason = "email_unavailable"
            elif self.store.recent_sends(member.member_id, (now - timedelta(days=cap_days)).isoformat()) >= cap_max:
                reason = "frequency_cap"
            if reason:
                text = ""
            elif job.text and not offer:
                text = job.text
            else:  # a member's own code is issued below; the planned text only holds a sample as long
                text = self._personal_text(campaign, job, member, SAMPLE_CODE if offer else None)
            if not reason and length_problem(text, job.channel, self.rules.brand):
                reason = "message_too_long"  # names changed since planning: skipped, never cut
            if not reason and offer:
                code = self._issue_coupon(offer, job, member)
                if code is None and campaign is not None:
                    reason = "coupon_unavailable"  # a campaign promising a coupon never goes out without one
                else:
                    text = self._personal_text(campaign, job, member, code)
            if reason:
                record.reason = reason
                self.store.note_skip(record)
                outcome[f"skipped_{reason}"] += 1
                continue
            claimed = SendRecord(job.campaign_id, job.run_id, member.member_id, job.channel, "sending", job.kind,
                                 job_id=job.job_id, sent_at=now.isoformat(), prior_orders=member.rfm.order_count)
            if not self.store.claim(claimed):
                outcome["skipped_duplicate"] += 1
                continue
            ready.append((member, claimed, text))
        if fallback:
            self.jobs.enqueue([self._job(job.campaign_id, job.run_id, channel, [m], None, job.kind, job.trigger)
                               for m, channel in fallback])
            for _, channel in fallback:
                outcome[f"fallback_{channel}"] += 1
        if job.channel == "line":
            self._send_line(job, ready, outcome)
        elif job.channel == "email" and campaign is not None:
            self._send_email(job, campaign, ready, outcome)
        else:
            self._send_sms(ready, outcome)
        return dict(outcome)

    def _held(self, job: SendJob, reason: str) -> dict[str, int]:
        """A paused or archived campaign's queued sends go no further: each member is recorded as skipped."""
        for member_id in job.member_ids:
            self.store.note_skip(SendRecord(job.campaign_id, job.run_id, member_id, job.channel, "skipped", job.kind,
                                            reason, job.job_id))
        return {f"skipped_{reason}": len(job.member_ids)}

    def _email_ready(self, campaign: Campaign | None) -> bool:
        """An e-mail needs a sender and a place for its unsubscribe link; without them nothing is sent."""
        return bool(campaign and self.rules.email_from and self._base(campaign) and self.reach.email
                    and self.reach.unsubscribe_token)

    def _send_email(self, job: SendJob, campaign: Campaign, ready: list[tuple[Member, SendRecord, str]],
                    outcome: Counter[str]) -> None:
        """One e-mail per member, each with its own one-click unsubscribe; a refusal for good fails the member,
        anything else is raised for the queue to retry (the claimed rows are this job's to claim again)."""
        if not ready or self.reach.email is None or self.reach.unsubscribe_token is None:
            return
        sender, base = self.reach.email(), self._base(campaign)
        for member, record, text in ready:
            token = self.reach.unsubscribe_token(member.member_id, job.campaign_id, job.run_id)
            url = f"{base}/u/{token}"
            subject = self._text(campaign, member, template=campaign.email_subject or campaign.name)
            message = EmailMessage(
                to=member.deliverable_email or "", subject=subject[:150], text=f"{text}\n\n取消訂閱：{url}",
                html=html_document(text, self.rules.brand, url), unsubscribe_url=url,
                unsubscribe_mailto=self.rules.unsubscribe_mailto or None,
                tags={"campaign_id": job.campaign_id, "run_id": job.run_id, "member_id": member.member_id})
            try:
                record.provider_message_id = sender.send(message)
            except EmailRejected:
                record.status, record.reason = "failed", "email_rejected"
                self.store.settle(record)
                outcome["failed"] += 1
                continue
            record.status = "sent"
            self.store.settle(record)
            outcome["sent"] += 1

    def _personal_text(self, campaign: Campaign | None, job: SendJob, member: Member, coupon: str | None = None) -> str:
        """The member's text; ``coupon`` is their code (a trigger without one leaves its coupon line out)."""
        if campaign is not None:
            return self._text(campaign, member, coupon, job.channel, job.run_id)
        binding = active(member.binding, self.clock(), self.rules.binding)
        if job.trigger == "staff_welcome":
            staff = (binding and self.names.staff_name(binding.staff_id)) or "您的專屬服務人員"
            return f"您好，我是{staff}，很高興成為您的專屬服務人員！有任何需要都可以直接在這裡找我。"
        stop = "回覆 STOP 取消訂閱。" if job.channel == "sms" else ""
        if job.trigger == "tier_welcome":
            tier = self.rules.tiers.get(job.run_id, {})
            gift = f"送您一張升級禮優惠券，結帳時出示優惠碼 {coupon} 即可使用。" if coupon else ""
            return f"恭喜您成為{self.rules.brand}{tier.get('name') or job.run_id}！{gift}感謝您的支持。{stop}"
        gift = f"下次消費輸入優惠碼 {coupon} 即可折抵，" if coupon else ""
        return f"歡迎加入{self.rules.brand}會員！{gift}回覆 STOP 取消訂閱。"

    def _coupon_offer(self, campaign: Campaign | None, job: SendJob) -> tuple[str, str, str | None] | None:
        """The coupon this job's message gives: (template id, issued by, campaign id), or None."""
        if campaign is not None:
            template = campaign.coupon_template_id
            return (template, f"campaign:{campaign.campaign_id}", campaign.campaign_id) if template else None
        if job.trigger == "welcome_sms" and self.rules.welcome_coupon_template:
            return self.rules.welcome_coupon_template, "welcome", None
        if job.trigger == "tier_welcome":
            template = str(self.rules.tiers.get(job.run_id, {}).get("welcome_coupon_template") or "")
            return (template, f"tier:{job.run_id}", None) if template else None
        return None

    def _issue_coupon(self, offer: tuple[str, str, str | None], job: SendJob, member: Member) -> str | None:
        """The member's code, issued once per (campaign or trigger run, member): a retried job gets the same one.
        None when it cannot be issued (the member's limit reached, the template gone); DynamoDB refusing is
        raised, for the queue to retry the job."""
        if self.coupons is None:
            return None
        template_id, issued_by, campaign_id = offer
        try:
            return str(self.coupons.issue(member.member_id, template_id, issued_by, campaign_id,
                                          key=f"{job.campaign_id}:{job.run_id}:{member.member_id}")["code"])
        except OmoError as error:
            if error.status == 503:
                raise
            logger.warning("no coupon for the message", extra={"campaign_id": job.campaign_id, "reason": error.code,
                                                               "problem": error.message})
            return None

    def _send_line(self, job: SendJob, ready: list[tuple[Member, SendRecord, str]],
                   outcome: Counter[str]) -> None:
        if not ready:
            return
        retry_key = str(uuid.UUID(hashlib.md5(job.job_id.encode(), usedforsecurity=False).hexdigest()))
        users = [m.line_user_id or "" for m, _, _ in ready]
        texts = {text for _, _, text in ready}
        try:
            if len(ready) > 1 and len(texts) == 1:
                self.line().multicast(users, [ready[0][2]], retry_key)
                message_ids = [retry_key] * len(ready)
            else:
                message_ids = [self.line().push(user, [text], retry_key if len(ready) == 1 else str(uuid.uuid5(
                    uuid.NAMESPACE_URL, f"{job.job_id}/{member.member_id}"))) or retry_key
                    for user, (member, _, text) in zip(users, ready, strict=True)]
        except LineRejected:
            for _, record, _ in ready:
                record.status, record.reason = "failed", "line_rejected"
                self.store.settle(record)
            outcome["failed"] += len(ready)
            return
        for (_, record, _), message_id in zip(ready, message_ids, strict=True):
            record.status, record.provider_message_id = "sent", message_id
            self.store.settle(record)
        outcome["sent"] += len(ready)

    def _send_sms(self, ready: list[tuple[Member, SendRecord, str]], outcome: Counter[str]) -> None:
        for member, record, text in ready:
            phone = member.phone
            if phone is None:
                record.status, record.reason = "failed", "no_phone"
                self.store.settle(record)
                outcome["failed"] += 1
                continue
            record.provider_message_id = self.sms().send(phone, sms_text(self.rules.brand, text))
            record.status = "sent"
            self.store.settle(record)
            outcome["sent"] += 1

    def _defer(self, job: SendJob, until: datetime, now: datetime) -> dict[str, int]:
        delay = max(1, min(MAX_DELAY_SECONDS, int((until - now).total_seconds())))
        self.jobs.enqueue([job.model_copy(update={"not_before": until})], delay_seconds=delay)
        return {"deferred": len(job.member_ids)}

    # ------------------------------------------------------------------ triggers and conversions
    def on_event(self, event: BusEvent) -> str:
        """The built-in welcomes, the journeys the event starts, conversions and blocks."""
        said = [self._welcome(event)]
        if isinstance(event, MemberLineUnfollowed):
            said.append(self._blocked(event))
        if isinstance(event, OrderRecorded) and event.event_type == "order.created" and event.member_id:
            said.append(self._convert(event))
        said += self.journeys.on_event(event)
        return "; ".join(s for s in said if s) or "ignored"

    @cached_property
    def journeys(self) -> Journeys:
        from omo2c.campaigns.journeys import Journeys

        return Journeys(self)

    def _welcome(self, event: BusEvent) -> str:
        if isinstance(event, MemberCreated):
            if event.channel == "pos" and event.consent.get("sms") is True:
                self.jobs.enqueue([self._trigger_job("welcome_sms", "once", "sms", event.member_id)])
                return "welcome sms queued"
            return "no welcome"
        if isinstance(event, MemberBound) and event.staff_id:
            self.jobs.enqueue([self._trigger_job("staff_welcome", event.staff_id, "line", event.member_id)])
            return "staff welcome queued"
        if isinstance(event, MemberTierChanged):
            if event.direction != "up" or event.to_tier == next(iter(self.rules.tiers), None):
                # A first order puts a member in the base tier (the first configured): no upgrade to celebrate.
                return "no tier welcome"
            # One welcome per member and tier: the tier is the run, so a redelivered change sends nothing new.
            self.jobs.enqueue([self._trigger_job("tier_welcome", event.to_tier, "line", event.member_id)])
            return "tier welcome queued"
        return ""

    def _trigger_job(self, trigger: str, run_id: str, channel: str, member_id: str) -> SendJob:
        return self._job(TRIGGERS[trigger], run_id, channel, [member_id], None, "trigger", trigger)

    def _last_touch(self, member_id: str, until: datetime, within: timedelta | None = None,
                    channel: str | None = None) -> tuple[SendRecord, Campaign] | None:
        """The latest campaign message sent to the member before ``until`` (within ``within``, else within its
        campaign's conversion window), optionally on one channel."""
        since = until - (within or timedelta(days=90))
        for send in self.store.sends_before(member_id, since.isoformat(), until.isoformat()):
            if send.kind != "campaign" or send.status != "sent" or not send.sent_at:
                continue
            if channel is not None and send.channel != channel:
                continue
            campaign = self.store.campaign(send.campaign_id)
            if campaign is None:
                continue
            window = within or timedelta(days=campaign.conversion_days)
            if until - datetime.fromisoformat(send.sent_at) > window:
                continue
            return send, campaign
        return None

    def _convert(self, order: OrderRecorded) -> str:
        """Last touch: the latest campaign send within its conversion window before the order."""
        placed = datetime.fromtimestamp((order.placed_at or 0) / 1000, tz=UTC)
        touch = self._last_touch(order.member_id, placed)
        if touch is None:
            return "no campaign touch"
        send, _ = touch
        repeat = bool(send.prior_orders)
        added = self.store.add_conversion(send.campaign_id, send.run_id, send.member_id, order.source,
                                          order.order_id, order.net_kept, order.currency, placed.isoformat(),
                                          send.channel, repeat)
        if not added:
            return "conversion already counted"
        if self.reach.publish is not None:
            member = self.members.live_members([order.member_id]).get(order.member_id)
            binding = active(member.binding, placed, self.rules.binding) if member else None
            self.reach.publish([CampaignConverted(
                campaign_id=send.campaign_id, run_id=send.run_id, member_id=order.member_id, channel=send.channel,
                source=order.source, order_id=order.order_id,
                store_id=order.store_id or (home_store(member, binding) if member else None),
                staff_id=binding.staff_id if binding else None, revenue=order.net_kept, currency=order.currency,
                at=placed)])
        return "conversion counted"

    def _blocked(self, event: MemberLineUnfollowed) -> str:
        """An unfollow soon after a LINE campaign message is charged to that message's run, once."""
        touch = self._last_touch(event.member_id, event.at, timedelta(hours=self.rules.blocked_hours), "line")
        if touch is None:
            return "no recent LINE message"
        send, _ = touch
        counted = self.store.note_feedback(send.campaign_id, send.run_id, send.member_id, "blocked", "line",
                                           event.at.isoformat())
        return "block counted" if counted else "block already counted"

    # ------------------------------------------------------------------ reporting
    def report(self, campaign_id: str) -> dict[str, Any]:
        from omo2c.campaigns.reports import campaign_report

        campaign = self.get(campaign_id)
        coupons = self.coupons.campaign_report(campaign_id) if self.coupons is not None else {
            "issued": 0, "redeemed": 0, "revenue": "0"}
        return campaign_report(campaign, self.store, self.reach.links, coupons)
