"""Journeys: campaigns a member's moment sends, at once or after a delay, and birthdays on the day.

A journey's run is a day in the campaign's time zone (a birthday's, the year): one message per member
per run, whatever is redelivered. What waits is a due item in its UTC hour, read hour by hour from a
cursor by the runner every quarter hour; birthdays are read from the members' birthday index. Never a
scan. The send itself is the campaign's like any other: consent, quiet hours, caps, reports.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from omo2c.campaigns.model import Campaign, SendJob
from omo2c.campaigns.rules import choose_channel, matches
from omo2c.campaigns.storage import Due
from omo2c.events import BusEvent, MemberBound, MemberCreated, MemberTierChanged, OrderRecorded
from omo2c.members.model import Member, birthday_days

LATE = timedelta(hours=48)  # a moment older than this (a history import) starts no journey
CATCH_UP = timedelta(days=7)  # the runner looks this far back after a pause, no further


def moment(event: BusEvent) -> tuple[str, str, datetime, str | None] | None:
    """(trigger event, member, when, tier entered) of a bus event that can start a journey."""
    if isinstance(event, MemberCreated):
        return "member.created", event.member_id, event.occurred_at, None
    if isinstance(event, MemberBound):
        return "member.bound", event.member_id, event.bound_at, None
    if isinstance(event, MemberTierChanged):
        return "member.tier_changed", event.member_id, event.at, event.to_tier
    if isinstance(event, OrderRecorded) and event.event_type == "order.created" and event.member_id:
        placed = datetime.fromtimestamp(event.placed_at / 1000, tz=UTC) if event.placed_at else event.occurred_at
        return "order.recorded", event.member_id, placed, None
    return None


def local_day(at: datetime, zone: str) -> date:
    return at.astimezone(ZoneInfo(zone)).date()


def due_at(campaign: Campaign, at: datetime) -> datetime:
    """``delay_days`` after the moment's local day, at the journey's time of day."""
    assert campaign.trigger is not None
    day = local_day(at, campaign.time_zone) + timedelta(days=campaign.trigger.delay_days)
    return datetime.combine(day, time.fromisoformat(campaign.trigger.send_at), tzinfo=ZoneInfo(campaign.time_zone))


class Campaigns(Protocol):
    """What journeys use of the campaign service: its store, members, queue, rules and clock."""

    store: Any
    members: Any
    jobs: Any
    rules: Any
    clock: Any

    @staticmethod
    def _job(campaign_id: str, run_id: str, channel: str, member_ids: list[str], text: str | None) -> SendJob: ...


class Journeys:
    def __init__(self, service: Campaigns) -> None:
        self.service = service
        self.store = service.store

    def _journeys(self, event: str) -> list[Campaign]:
        return [c for c in self.store.journeys() if c.trigger is not None and c.trigger.event == event]

    # ------------------------------------------------------------------ a member's moment
    def on_event(self, event: BusEvent) -> list[str]:
        found = moment(event)
        if found is None:
            return []
        name, member_id, at, tier = found
        now = self.service.clock()
        if now - at > LATE:
            return [f"{name} too long ago for journeys"] if self._journeys(name) else []
        said = []
        for campaign in self._journeys(name):
            trigger = campaign.trigger
            assert trigger is not None
            if trigger.tiers and tier not in trigger.tiers:
                continue
            if trigger.delay_days:
                due = due_at(campaign, at)
                self.store.add_due(Due(campaign.campaign_id, member_id, local_day(due, campaign.time_zone)
                                       .isoformat(), due))
                said.append(f"journey {campaign.campaign_id} due {due.date().isoformat()}")
                continue
            run_id = local_day(at, campaign.time_zone).isoformat()
            said.append(self._queue(campaign, run_id, [member_id], name, tier))
        return said

    def _queue(self, campaign: Campaign, run_id: str, member_ids: list[str], trigger: str,
               tier: str | None = None, members: dict[str, Member] | None = None) -> str:
        """The members the segment still selects, one job each (their texts are their own), in the journey's run."""
        service, now = self.service, self.service.clock()
        found = members if members is not None else service.members.live_members(member_ids)
        in_tiers = bool(tier and campaign.segment.tiers and tier in campaign.segment.tiers)
        jobs: list[SendJob] = []
        for member_id in member_ids:
            member = found.get(member_id)
            if member is None or not matches(member, campaign.segment, now, service.rules.napl_window,
                                             service.rules.binding, in_tiers):
                continue
            channel = choose_channel(member, campaign.channels, member.opted_out).channel
            # no channel now: queued on the first one, for the sender to record why it was skipped
            jobs.append(service._job(campaign.campaign_id, run_id, channel or campaign.channels[0],
                                     [member.member_id], None))
        if not jobs:
            return f"journey {campaign.campaign_id}: not in its segment"
        self.store.open_journey_run(campaign.campaign_id, run_id, now.isoformat(), trigger)
        service.jobs.enqueue(jobs)
        return f"journey {campaign.campaign_id} queued {len(jobs)}"

    # ------------------------------------------------------------------ the runner
    def run(self) -> dict[str, Any]:
        """What is due now and today's birthdays, into the send queue."""
        return {"due": self.run_due(), "birthdays": self.run_birthdays()}

    def run_due(self) -> int:
        now = self.service.clock().astimezone(UTC)
        current = now.replace(minute=0, second=0, microsecond=0)
        cursor = self.store.due_cursor() or current - timedelta(hours=1)
        hour = max(cursor, current - CATCH_UP)
        queued = 0
        campaigns: dict[str, Campaign | None] = {}
        while hour <= current:
            for due in self.store.due(hour, now):
                if due.campaign_id not in campaigns:
                    campaigns[due.campaign_id] = self.store.campaign(due.campaign_id)
                campaign = campaigns[due.campaign_id]
                if campaign is not None and campaign.status == "active" and campaign.trigger is not None:
                    self._queue(campaign, due.run_id, [due.member_id], campaign.trigger.event)
                    queued += 1
                self.store.done(due)
            hour += timedelta(hours=1)
        self.store.set_due_cursor(current)
        return queued

    def run_birthdays(self) -> int:
        """Each birthday journey once per local day, once its time of day has come; a member's birthday run
        is the year, so a second pass the same year sends nothing twice."""
        now = self.service.clock()
        queued = 0
        for campaign in self._journeys("birthday"):
            assert campaign.trigger is not None
            local = now.astimezone(ZoneInfo(campaign.time_zone))
            day = local.date().isoformat()
            if local.time() < time.fromisoformat(campaign.trigger.send_at) or self.store.birthdays_queued(
                    campaign.campaign_id, day):
                continue
            members = {m.member_id: m for m in self._born_on(birthday_days(local.date()))}
            for chunk in _chunks(list(members), 100):
                self._queue(campaign, f"birthday-{local.year}", chunk, "birthday",
                            members={m: members[m] for m in chunk})
            queued += len(members)
            self.store.mark_birthdays_queued(campaign.campaign_id, day, now.isoformat())
        return queued

    def _born_on(self, days: list[str]) -> list[Member]:
        return [m for day in days for m in self.service.members.born_on(day)[0]]


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
