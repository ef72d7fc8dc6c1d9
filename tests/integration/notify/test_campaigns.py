"""Campaigns against moto: plan through the activity index, send under the rules, report."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from omo2c import wiring
from omo2c.binding.model import Binding
from omo2c.core.settings import Settings
from omo2c.events import MemberBound, MemberCreated, OrderRecorded
from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.members.model import LineStatus
from omo2c.sources.canonical import CanonicalEvent
from tests.support.aws import bus_record, drain_queue, http_event, load_handler, sqs_event
from tests.support.events import pos_order
from tests.support.fakes import FakeMessenger, FakeSms

ADMIN = {"Authorization": "Bearer test-admin-token", "Content-Type": "application/json"}
LAPSED_AT = (datetime.now(tz=UTC) - timedelta(days=70)).isoformat()


def make_member(n: int, *, line: bool, sms: bool, opted_out: bool = False, recent: bool = False,
                name: str | None = None) -> str:
    phone = f"0955{600000 + n:06d}"
    raw = pos_order(f"c-{n}", phone=phone, order_id=f"C{n}", total=500,
                    occurred_at=datetime.now(tz=UTC).isoformat() if recent else LAPSED_AT, name=name or f"客人{n}")
    raw["customer"]["consent"] = {"sms": sms}
    outcome = wiring.production().resolver.record(CanonicalEvent.model_validate({**raw, "source": "pos"}))
    members = wiring.production().members
    now = datetime.now(tz=UTC)
    members.bind(members.get_member(outcome.member_id), Binding("S001", "ST01", now, "qr", "test", now))
    if line:
        members.set_line(members.get_member(outcome.member_id), LineStatus("U" + f"{n:032x}", True, now.isoformat()))
    if opted_out:
        members.set_opt_out(members.get_member(outcome.member_id), True)
    return outcome.member_id


@pytest.fixture
def notify(aws, lambda_context, monkeypatch):
    monkeypatch.setenv("OMO_QUIET_HOURS", "[]")  # triggers follow the stack's quiet hours; tests run at any hour
    line, sms = FakeMessenger(), FakeSms()
    services = wiring.Services(Settings.from_env(), messenger=line, sms=sms)
    wiring.production().staff_directory.put_store("ST01", "信義店", None)
    wiring.production().staff_directory.put_staff("S001", "王小明", "ST01", "active")
    api = load_handler("CampaignsApiFunction")
    sender = load_handler("SendWorkerFunction")
    triggers = load_handler("NotifyEventsFunction")

    class Notify:
        def __init__(self):
            self.line, self.sms, self.services = line, sms, services

        def call(self, method, path, route, params=None, body=None):
            event = http_event(method, path, route=route, headers=ADMIN, path_params=params,
                               body=json.dumps(body) if body is not None else "")
            response = api.lambda_handler(event, lambda_context, services=services)
            return response["statusCode"], json.loads(response["body"])

        def drain(self) -> int:
            return drain_queue(aws["sqs"], aws["send_url"], sender, lambda_context, services)

        def event(self, bus_event):
            body = bus_record(bus_event)
            result = triggers.lambda_handler(sqs_event([body]), lambda_context, services=services)
            assert result == {"batchItemFailures": []}

    return Notify()


CAMPAIGN = {"name": "60 天未購回流", "segment": {"days_since_last_order": {"min": 60}},
            "message": "{name} 您好，我是{staff_name}，好久不見！", "channels": ["line", "sms"],
            "schedule": "cron(0 11 * * ? *)", "quiet_hours": [], "conversion_days": 7}


def test_lapsed_members_get_line_or_sms_and_the_opted_out_get_nothing(notify):
    line_member = make_member(1, line=True, sms=False)
    make_member(2, line=False, sms=True)
    make_member(3, line=True, sms=True, opted_out=True)
    make_member(4, line=True, sms=True, recent=True)
    status, campaign = notify.call("POST", "/campaigns", "/campaigns", body=CAMPAIGN)
    assert status == 201
    cid = campaign["campaign_id"]
    status, preview = notify.call("POST", f"/campaigns/{cid}/run", "/campaigns/{campaign_id}/run",
                                  {"campaign_id": cid}, {"dry_run": True})
    assert status == 200 and preview["members_per_channel"] == {"line": 1, "sms": 1}
    assert preview["skipped"] == {"opted_out": 1} and len(preview["samples"]) == 2
    assert notify.drain() == 0, "a dry run sends nothing"

    status, run = notify.call("POST", f"/campaigns/{cid}/run", "/campaigns/{campaign_id}/run", {"campaign_id": cid},
                              {})
    assert status == 202 and run["selected"] == 3 and run["items_read"] <= 4
    notify.drain()
    assert [texts[0] for _, texts, _ in notify.line.pushes] == ["客人1 您好，我是王小明，好久不見！"]
    assert [(phone, text) for phone, text in notify.sms.sent] == [
        ("+886955600002", "【Brand】客人2 您好，我是王小明，好久不見！")]

    now = datetime.now(tz=UTC)
    notify.event(OrderRecorded(member_id=line_member, event_id="ec-conv", event_type="order.created", source="ec",
                               order_id="CONV-1", channel="ec", total=880, net=880, net_kept=880, status="open",
                               placed_at=int(now.timestamp() * 1000), version="00000001", occurred_at=now))
    status, report = notify.call("GET", f"/campaigns/{cid}/report", "/campaigns/{campaign_id}/report",
                                 {"campaign_id": cid})
    (only,) = report["runs"]
    assert only["sent"] == 2 and only["sent_by_channel"] == {"line": 1, "sms": 1}
    assert only["skipped"] == {"opted_out": 1} and only["conversions"] == 1 and only["revenue"] == "880"


def test_identical_content_is_one_multicast_and_reruns_respect_the_frequency_cap(notify):
    for n in range(10, 15):
        make_member(n, line=True, sms=False)
    _, campaign = notify.call("POST", "/campaigns", "/campaigns", body=CAMPAIGN | {
        "message": "好久不見，本週熟成紅茶 8 折！", "frequency_cap": {"max": 1, "days": 7}})
    cid = campaign["campaign_id"]
    notify.call("POST", f"/campaigns/{cid}/run", "/campaigns/{campaign_id}/run", {"campaign_id": cid}, {})
    notify.drain()
    assert len(notify.line.multicasts) == 1 and len(notify.line.multicasts[0][0]) == 5
    notify.call("POST", f"/campaigns/{cid}/run", "/campaigns/{campaign_id}/run", {"campaign_id": cid}, {})
    notify.drain()
    assert len(notify.line.multicasts) == 1
    _, report = notify.call("GET", f"/campaigns/{cid}/report", "/campaigns/{campaign_id}/report",
                            {"campaign_id": cid})
    assert [r["skipped"].get("frequency_cap", 0) for r in report["runs"]] == [0, 5]


def test_triggered_welcome_sms_once_and_staff_welcome_on_line(notify):
    member_id = make_member(20, line=True, sms=True, recent=True)
    for _ in range(2):
        notify.event(MemberCreated(member_id=member_id, event_id="c-20", channel="pos", consent={"sms": True},
                                   occurred_at=datetime.now(tz=UTC)))
    notify.event(MemberBound(member_id=member_id, staff_id="S001", staff_name="王小明", via="qr",
                             bound_at=datetime.now(tz=UTC), policy_version="test"))
    notify.drain()
    assert len(notify.sms.sent) == 1 and "歡迎" in notify.sms.sent[0][1]
    assert "優惠碼" not in notify.sms.sent[0][1], "no welcome coupon template is configured: no coupon line"
    assert notify.line.pushes and "王小明" in notify.line.pushes[0][1][0]


def test_quiet_hours_defer_through_the_queue(notify, aws):
    make_member(30, line=True, sms=False)
    service = notify.services.campaign_service
    _, campaign = notify.call("POST", "/campaigns", "/campaigns",
                              body=CAMPAIGN | {"quiet_hours": [["00:00", "23:59"]]})
    service.run(campaign["campaign_id"])
    notify.drain()
    assert notify.line.pushes == []
    attrs = aws["sqs"].get_queue_attributes(QueueUrl=aws["send_url"],
                                            AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert int(attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"]) == 1


def test_bad_requests(notify):
    assert notify.call("POST", "/campaigns", "/campaigns", body={**CAMPAIGN, "channels": ["fax"]})[0] == 422
    assert notify.call("GET", "/campaigns/nope", "/campaigns/{campaign_id}", {"campaign_id": "nope"})[0] == 404
    assert wiring.production().members.find_by_identifier(Identifier(IdentifierKind.PHONE, "+886955600099")) is None


def test_templates_evaluate_nothing_and_overlong_messages_are_refused_or_skipped(notify):
    """Injection is a 422 naming `message`; a text over LINE's or SMS's limit is refused when the
    template alone is too long, else each member whose rendered text is too long is skipped, never cut."""
    for message in ("{name:{name.__class__}}", "{staff_name:x>20000000}", "{name!r}", "{name[0]}", "{{name}"):
        status, body = notify.call("POST", "/campaigns", "/campaigns", body=CAMPAIGN | {"message": message})
        assert status == 422 and [d["field"] for d in body["details"]] == ["message"], message
    status, body = notify.call("POST", "/campaigns", "/campaigns", body=CAMPAIGN | {"message": "好" * 700})
    assert status == 422 and [d["field"] for d in body["details"]] == ["message"]
    assert "SMS segments" in body["details"][0]["problem"]
    assert notify.call("GET", "/campaigns", "/campaigns")[1]["campaigns"] == [], "a refused campaign is not stored"
    assert notify.call("POST", "/campaigns", "/campaigns", body=CAMPAIGN | {"message": "好" * 700,
                                                                            "channels": ["line"]})[0] == 201

    make_member(50, line=False, sms=True, name="名" * 250)
    renamed = make_member(51, line=False, sms=True)
    make_member(52, line=False, sms=True)
    _, campaign = notify.call("POST", "/campaigns", "/campaigns", body=CAMPAIGN | {
        "message": "{{{name}}}{name}{name} 好久不見", "channels": ["sms"]})
    cid = campaign["campaign_id"]
    run_route = ("POST", f"/campaigns/{cid}/run", "/campaigns/{campaign_id}/run", {"campaign_id": cid})
    _, preview = notify.call(*run_route, {"dry_run": True})
    assert preview["skipped"] == {"message_too_long": 1} and preview["members_per_channel"] == {"sms": 2}
    notify.call(*run_route, {})
    raw = pos_order("c-51b", phone="0955600051", order_id="C51b", total=1, occurred_at=datetime.now(tz=UTC).isoformat(),
                    name="名" * 250)
    assert wiring.production().resolver.record(CanonicalEvent.model_validate({**raw, "source": "pos"})).member_id \
        == renamed
    notify.drain()
    assert notify.sms.sent == [("+886955600052", "【Brand】{客人52}客人52客人52 好久不見")]
    _, report = notify.call("GET", f"/campaigns/{cid}/report", "/campaigns/{campaign_id}/report", {"campaign_id": cid})
    assert report["runs"][0]["sent"] == 1 and report["runs"][0]["skipped"] == {"message_too_long": 2}


def test_provider_errors_are_retried_by_the_queue_and_never_send_twice(notify, aws, lambda_context):
    from omo2c.channels.line import LineUnavailable
    from omo2c.channels.sms import SmsFailed

    make_member(40, line=True, sms=False)
    make_member(41, line=False, sms=True)
    _, campaign = notify.call("POST", "/campaigns", "/campaigns", body=CAMPAIGN)
    notify.services.campaign_service.run(campaign["campaign_id"])
    notify.line.failures.append(LineUnavailable("LINE answered 500"))
    notify.sms.failures.append(SmsFailed("Throttling"))
    sender = load_handler("SendWorkerFunction")
    messages = aws["sqs"].receive_message(QueueUrl=aws["send_url"], MaxNumberOfMessages=10)["Messages"]
    failed = sender.lambda_handler(sqs_event([m["Body"] for m in messages]), lambda_context, services=notify.services)
    assert len(failed["batchItemFailures"]) == len(messages), "every record failed: each goes back to the queue"
    retry = sender.lambda_handler(sqs_event([m["Body"] for m in messages]), lambda_context, services=notify.services)
    assert retry == {"batchItemFailures": []}
    again = sender.lambda_handler(sqs_event([m["Body"] for m in messages]), lambda_context, services=notify.services)
    assert again == {"batchItemFailures": []}
    assert len(notify.line.pushes) == 1 and len(notify.sms.sent) == 1
