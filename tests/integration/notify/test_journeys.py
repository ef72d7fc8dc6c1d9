"""Journeys, the campaign lifecycle and campaign KPIs against moto, with the clock in the test's hand."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from omo2c import wiring
from omo2c.channels.email import EmailMessage, EmailRejected
from omo2c.core.aws import client
from omo2c.core.settings import Settings
from omo2c.events import MemberCreated, MemberLineUnfollowed, OrderRecorded
from omo2c.members.model import LineStatus
from omo2c.sources.canonical import CanonicalEvent
from tests.support.aws import bus_record, drain_queue, http_event, load_handler, sqs_event
from tests.support.events import pos_order
from tests.support.fakes import FakeMessenger, FakeSms

ADMIN = {"Authorization": "Bearer test-admin-token", "Content-Type": "application/json"}
TAIPEI = ZoneInfo("Asia/Taipei")
START = datetime(2026, 12, 1, 11, 0, tzinfo=TAIPEI)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now.astimezone(UTC)


class FakeEmail:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.refuse: set[str] = set()

    def send(self, message: EmailMessage) -> str:
        if message.to in self.refuse:
            raise EmailRejected("MessageRejected")
        self.sent.append(message)
        return f"ses-{len(self.sent)}"


@pytest.fixture
def stack(aws, lambda_context, monkeypatch):
    monkeypatch.setenv("OMO_EMAIL_FROM", "Brand <news@brand.example>")
    monkeypatch.setenv("OMO_QUIET_HOURS", "[]")
    clock, line, sms, email = Clock(START), FakeMessenger(), FakeSms(), FakeEmail()
    services = wiring.Services(Settings.from_env(), messenger=line, sms=sms, email=email, clock=clock)
    wiring.production().staff_directory.put_store("ST01", "信義店", None)
    wiring.production().staff_directory.put_staff("S001", "王小明", "ST01", "active")
    handlers = {name: load_handler(name) for name in (
        "CampaignsApiFunction", "SendWorkerFunction", "NotifyEventsFunction", "JourneyRunnerFunction",
        "UnsubscribeFunction", "ShareLinkFunction")}

    class Stack:
        def __init__(self) -> None:
            self.clock, self.line, self.sms, self.email, self.services = clock, line, sms, email, services

        def call(self, method, path, route, params=None, body=None, headers=None):
            event = http_event(method, path, route=route, headers={**ADMIN, **(headers or {})}, path_params=params,
                               body=json.dumps(body) if body is not None else "")
            response = handlers["CampaignsApiFunction"].lambda_handler(event, lambda_context, services=services)
            text = response["body"]
            is_json = response["headers"].get("Content-Type", "").startswith("application/json")
            return response["statusCode"], json.loads(text) if is_json else text

        def create(self, **definition):
            status, campaign = self.call("POST", "/campaigns", "/campaigns", body={
                "name": "旅程", "message": "{name} 您好", "channels": ["line", "sms"], "quiet_hours": [],
                **definition})
            assert status == 201, campaign
            return campaign["campaign_id"]

        def report(self, cid, **headers):
            return self.call("GET", f"/campaigns/{cid}/report", "/campaigns/{campaign_id}/report",
                             {"campaign_id": cid}, headers=headers)[1]

        def drain(self) -> int:
            return drain_queue(aws["sqs"], aws["send_url"], handlers["SendWorkerFunction"], lambda_context, services)

        def event(self, bus_event):
            body = bus_record(bus_event)
            result = handlers["NotifyEventsFunction"].lambda_handler(sqs_event([body]), lambda_context,
                                                                     services=services)
            assert result == {"batchItemFailures": []}

        def journeys(self):
            return handlers["JourneyRunnerFunction"].lambda_handler({}, lambda_context, services=services)

        def unsubscribe(self, url: str, method: str = "POST"):
            token = url.rsplit("/", 1)[1]
            event = http_event(method, f"/u/{token}", route="/u/{token}", path_params={"token": token},
                               body="List-Unsubscribe=One-Click", caller=None)
            return handlers["UnsubscribeFunction"].lambda_handler(event, lambda_context, services=services)

        def click(self, url: str):
            code = url.rsplit("/", 1)[1]
            event = http_event("GET", f"/r/{code}", route="/r/{code}", path_params={"code": code}, caller=None,
                               headers={"User-Agent": "Mozilla/5.0 (iPhone)"})
            return handlers["ShareLinkFunction"].lambda_handler(event, lambda_context, services=services)

    return Stack()


def member(n: int, *, line: bool = True, sms: bool = False, email: bool = False, birthday: str | None = None,
           at: datetime = START - timedelta(days=30)) -> str:
    raw = pos_order(f"j-{n}", phone=f"0955{700000 + n:06d}", email=f"guest{n}@example.com", order_id=f"J{n}",
                    total=500, occurred_at=at.isoformat(), name=f"客人{n}")
    raw["customer"]["consent"] = {"sms": sms, "email": email}
    if birthday:
        raw["customer"]["birthday"] = birthday
    outcome = wiring.production().resolver.record(CanonicalEvent.model_validate({**raw, "source": "pos"}))
    if line:
        members = wiring.production().members
        members.set_line(members.get_member(outcome.member_id),
                         LineStatus("U" + f"{n:032x}", True, START.isoformat()))
    return outcome.member_id


def order(member_id: str, order_id: str, at: datetime, amount: int = 880) -> OrderRecorded:
    return OrderRecorded(member_id=member_id, event_id=f"e-{order_id}", event_type="order.created", source="pos",
                         order_id=order_id, channel="pos", store_id="ST01", total=amount, net=amount,
                         net_kept=amount, status="open", placed_at=int(at.timestamp() * 1000), version="00000001",
                         occurred_at=at)


def texts(fake: FakeMessenger) -> list[str]:
    return [texts[0] for _, texts, _ in fake.pushes]


# ---------------------------------------------------------------------- lifecycle
def test_a_campaign_is_changed_paused_resumed_and_archived_with_its_schedule(stack, aws):
    cid = stack.create(schedule="cron(0 11 * * ? *)", segment={"days_since_last_order": {"min": 1}})
    scheduler = client("scheduler")
    group = stack.services.settings.schedule_group

    def schedule():
        return scheduler.get_schedule(Name=f"campaign-{cid}", GroupName=group)

    status, changed = stack.call("PATCH", f"/campaigns/{cid}", "/campaigns/{campaign_id}", {"campaign_id": cid},
                                 {"message": "{name} 新訊息", "schedule": "cron(0 12 * * ? *)"})
    assert status == 200 and changed["message"] == "{name} 新訊息" and changed["updated_at"]
    assert schedule()["ScheduleExpression"] == "cron(0 12 * * ? *)"

    status, _ = stack.call("PATCH", f"/campaigns/{cid}", "/campaigns/{campaign_id}", {"campaign_id": cid},
                             {"message": "{nmae}"})
    assert status == 422
    status, _ = stack.call("PATCH", f"/campaigns/{cid}", "/campaigns/{campaign_id}", {"campaign_id": cid},
                             {"campaign_id": "other"})
    assert status == 422, "only the fields a marketer writes may change"

    status, paused = stack.call("POST", f"/campaigns/{cid}/pause", "/campaigns/{campaign_id}/pause",
                                {"campaign_id": cid})
    assert status == 200 and paused["status"] == "paused" and schedule()["State"] == "DISABLED"
    status, refused = stack.call("POST", f"/campaigns/{cid}/run", "/campaigns/{campaign_id}/run",
                                 {"campaign_id": cid}, {})
    assert status == 409 and "paused" in refused["message"]

    status, resumed = stack.call("POST", f"/campaigns/{cid}/resume", "/campaigns/{campaign_id}/resume",
                                 {"campaign_id": cid})
    assert status == 200 and resumed["status"] == "active" and schedule()["State"] == "ENABLED"

    member(1)
    status, run = stack.call("POST", f"/campaigns/{cid}/run", "/campaigns/{campaign_id}/run", {"campaign_id": cid},
                             {})
    assert status == 202 and run["selected"] == 1
    stack.drain()
    status, archived = stack.call("DELETE", f"/campaigns/{cid}", "/campaigns/{campaign_id}", {"campaign_id": cid})
    assert status == 200 and archived["status"] == "archived"
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        schedule()
    status, _ = stack.call("PATCH", f"/campaigns/{cid}", "/campaigns/{campaign_id}", {"campaign_id": cid},
                           {"message": "again"})
    assert status == 409
    report = stack.report(cid)
    assert report["status"] == "archived" and report["totals"]["sent"] == 1, "an archived campaign's report stays"


def test_sends_queued_before_a_pause_are_skipped_not_sent(stack):
    member(2)
    cid = stack.create(schedule="cron(0 11 * * ? *)")
    stack.call("POST", f"/campaigns/{cid}/run", "/campaigns/{campaign_id}/run", {"campaign_id": cid}, {})
    stack.call("POST", f"/campaigns/{cid}/pause", "/campaigns/{campaign_id}/pause", {"campaign_id": cid})
    stack.drain()
    assert stack.line.pushes == [] and stack.line.multicasts == []
    (run,) = stack.report(cid)["runs"]
    assert run["sent"] == 0 and run["skipped"] == {"campaign_paused": 1}


# ---------------------------------------------------------------------- journeys
def test_a_post_purchase_journey_sends_seven_days_later_at_its_hour_once(stack):
    mid = member(3)
    cid = stack.create(trigger={"event": "order.recorded", "delay_days": 7, "send_at": "10:00"},
                       message="{name}，上週的商品還喜歡嗎？")
    bought = START  # 2026-12-01 11:00 Taipei
    stack.event(order(mid, "P-1", bought))
    stack.event(order(mid, "P-1", bought))  # redelivered
    stack.drain()
    assert texts(stack.line) == [], "nothing at once"

    stack.clock.now = datetime(2026, 12, 8, 9, 59, tzinfo=TAIPEI)
    assert stack.journeys()["due"] == 0
    stack.clock.now = datetime(2026, 12, 8, 10, 5, tzinfo=TAIPEI)
    assert stack.journeys()["due"] == 1
    stack.drain()
    assert texts(stack.line) == ["客人3，上週的商品還喜歡嗎？"]
    stack.clock.now = datetime(2026, 12, 8, 10, 20, tzinfo=TAIPEI)
    assert stack.journeys()["due"] == 0
    stack.drain()
    assert len(stack.line.pushes) == 1
    (run,) = stack.report(cid)["runs"]
    assert run["run_id"] == "2026-12-08" and run["trigger"] == "order.recorded" and run["selected"] == 1


def test_a_journey_starts_nothing_for_a_moment_long_past(stack):
    mid = member(4)
    stack.create(trigger={"event": "order.recorded", "delay_days": 1})
    stack.event(order(mid, "OLD-1", START - timedelta(days=200)))
    stack.clock.now = START + timedelta(days=2)
    assert stack.journeys()["due"] == 0


def test_a_welcome_journey_goes_at_once_and_only_to_its_segment(stack):
    inside, outside = member(5, sms=True), member(6, sms=True)
    stack.create(trigger={"event": "member.created"}, segment={"order_count": {"min": 1}},
                 message="歡迎 {name}！", channels=["sms"])
    wiring.production().members.set_opt_out(wiring.production().members.get_member(outside), True)
    for mid in (inside, outside):
        stack.event(MemberCreated(member_id=mid, event_id=f"c-{mid}", channel="pos", store_id="ST01",
                                  consent={"sms": False}, occurred_at=START))
    stack.drain()
    assert [text for _, text in stack.sms.sent] == ["【Brand】歡迎 客人5！"]


def test_a_birthday_journey_sends_on_the_day_at_its_hour_once_a_year(stack):
    member(7, birthday="1990-12-01")
    member(8, birthday="1990-12-02")
    cid = stack.create(trigger={"event": "birthday", "send_at": "10:00"}, message="{name} 生日快樂！")
    stack.clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=TAIPEI)
    assert stack.journeys()["birthdays"] == 0
    stack.clock.now = datetime(2026, 12, 1, 10, 30, tzinfo=TAIPEI)
    assert stack.journeys()["birthdays"] == 1
    stack.clock.now = datetime(2026, 12, 1, 18, 0, tzinfo=TAIPEI)
    assert stack.journeys()["birthdays"] == 0, "once per day"
    stack.drain()
    assert texts(stack.line) == ["客人7 生日快樂！"]
    stack.clock.now = datetime(2026, 12, 2, 10, 30, tzinfo=TAIPEI)
    stack.journeys()
    stack.drain()
    assert texts(stack.line) == ["客人7 生日快樂！", "客人8 生日快樂！"]
    assert {r["run_id"] for r in stack.report(cid)["runs"]} == {"birthday-2026"}


# ---------------------------------------------------------------------- e-mail, clicks, blocks, conversions
def test_an_email_campaign_unsubscribes_in_one_click_and_the_next_run_skips(stack):
    mid = member(9, line=False, email=True)
    cid = stack.create(schedule="cron(0 11 * * ? *)", channels=["email"], email_subject="{name}，本週優惠",
                       message="{name} 您好，看看新品 https://shop.example/new")
    stack.call("POST", f"/campaigns/{cid}/run", "/campaigns/{campaign_id}/run", {"campaign_id": cid}, {})
    stack.drain()
    (mail,) = stack.email.sent
    assert mail.to == "guest9@example.com" and mail.subject == "客人9，本週優惠"
    assert "/u/" in mail.unsubscribe_url and mail.unsubscribe_url in mail.html and mail.unsubscribe_url in mail.text
    assert "https://shop.example/new" not in mail.text, "the link goes through the counted redirect"
    assert mail.tags == {"campaign_id": cid, "run_id": stack.report(cid)["runs"][0]["run_id"], "member_id": mid}

    short = next(word for word in mail.text.split() if "/r/" in word)
    opened = stack.click(short)
    assert opened["statusCode"] == 302 and "utm_campaign=" + cid in opened["headers"]["Location"]

    answered = stack.unsubscribe(mail.unsubscribe_url)
    assert answered["statusCode"] == 200
    assert wiring.production().members.get_member(mid).consent["email"] is False
    stack.clock.now += timedelta(days=1)
    stack.call("POST", f"/campaigns/{cid}/run", "/campaigns/{campaign_id}/run", {"campaign_id": cid}, {})
    stack.drain()
    assert len(stack.email.sent) == 1
    first, second = stack.report(cid)["runs"]
    assert first["sent"] == 1 and first["unsubscribed"] == 1 and first["clicks"] == 1
    assert first["channels"]["email"]["clicks"] == 1 and first["channels"]["email"]["unsubscribed"] == 1
    assert second["sent"] == 0 and second["skipped"] == {"unsubscribed": 1}


def test_an_email_refused_for_good_fails_the_member_and_no_sender_skips(stack, monkeypatch):
    member(10, line=False, email=True)
    stack.email.refuse.add("guest10@example.com")
    cid = stack.create(schedule="cron(0 11 * * ? *)", channels=["email"])
    stack.call("POST", f"/campaigns/{cid}/run", "/campaigns/{campaign_id}/run", {"campaign_id": cid}, {})
    stack.drain()
    assert stack.report(cid)["totals"]["failed"] == 1
    stack.services.campaign_service.rules.email_from = ""
    stack.clock.now += timedelta(days=1)
    stack.call("POST", f"/campaigns/{cid}/run", "/campaigns/{campaign_id}/run", {"campaign_id": cid}, {})
    stack.drain()
    assert stack.report(cid)["runs"][1]["skipped"] == {"email_unavailable": 1}


def test_kpis_count_blocks_clicks_conversions_and_the_repurchase_rate(stack):
    buyer, blocker, quiet = member(11), member(12), member(13)
    cid = stack.create(schedule="cron(0 11 * * ? *)", message="{name} 新品上市 https://shop.example/a",
                       conversion_days=7)
    stack.call("POST", f"/campaigns/{cid}/run", "/campaigns/{campaign_id}/run", {"campaign_id": cid}, {})
    stack.drain()
    sent = texts(stack.line) or [t[0] for _, t, _ in stack.line.multicasts]
    short = next(word for word in sent[0].split() if "/r/" in word)
    stack.click(short)
    stack.clock.now += timedelta(hours=3)
    stack.event(MemberLineUnfollowed(member_id=blocker, line_user_id="U" + f"{12:032x}", at=stack.clock()))
    stack.event(MemberLineUnfollowed(member_id=blocker, line_user_id="U" + f"{12:032x}", at=stack.clock()))
    stack.event(order(buyer, "K-1", stack.clock()))
    stack.event(order(buyer, "K-1", stack.clock()))
    (run,) = stack.report(cid)["runs"]
    assert run["sent"] == 3 and run["blocked"] == 1 and run["clicks"] == 1
    assert run["conversions"] == 1 and run["revenue"] == "880" and run["converted_members"] == 1
    assert run["conversion_rate"] == round(1 / 3, 4) and run["repurchase_rate"] == round(1 / 3, 4)
    assert run["channels"]["line"]["blocked"] == 1 and quiet

    table = list(csv.DictReader(io.StringIO(stack.report(cid, Accept="text/csv"))))
    assert [(r["run_id"] == run["run_id"], r["channel"]) for r in table[:2]] == [(True, "all"), (True, "line")]
    assert table[0]["blocked"] == "1" and table[0]["conversions"] == "1" and table[-1]["run_id"] == "total"


def test_journeys_are_listed_once_a_minute_and_a_change_through_the_same_store_shows_at_once(stack, monkeypatch):
    """Every member's moment asks for the journeys; listing them reads every campaign, so it is cached."""
    from omo2c.campaigns import storage

    store, elsewhere = stack.services.campaign_service.store, storage.CampaignStore(Settings.from_env())
    listed, list_all = [], storage.CampaignStore.campaigns
    monkeypatch.setattr(storage.CampaignStore, "campaigns", lambda self: listed.append(self) or list_all(self))
    assert store.journeys() == [] and elsewhere.journeys() == []
    welcome = stack.create(trigger={"event": "member.created"})
    assert [c.campaign_id for c in store.journeys()] == [welcome]  # its own change: read again at once
    assert elsewhere.journeys() == []  # another process's: within the minute
    stack.call("POST", f"/campaigns/{welcome}/pause", "/campaigns/{campaign_id}/pause", {"campaign_id": welcome})
    assert store.journeys() == [] and len(listed) == 4
    assert store.journeys() == [] and elsewhere.journeys() == [] and len(listed) == 4
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + storage.JOURNEYS_TTL_SECONDS)
    stack.call("POST", f"/campaigns/{welcome}/resume", "/campaigns/{campaign_id}/resume", {"campaign_id": welcome})
    assert [c.campaign_id for c in elsewhere.journeys()] == [welcome] and len(listed) == 5


def test_brief_caches_are_read_on_a_machine_booted_moments_ago(stack, monkeypatch):
    """The monotonic clock counts from boot: a cache never read is older than any TTL, not 0 s old."""
    from omo2c.campaigns import storage
    from omo2c.staff.storage import StaffDirectory

    welcome = stack.create(trigger={"event": "member.created"})
    monkeypatch.setattr(time, "monotonic", lambda: 5.0)
    assert [c.campaign_id for c in storage.CampaignStore(Settings.from_env()).journeys()] == [welcome]
    assert set(StaffDirectory(Settings.from_env()).stores()) == {"ST01"}
