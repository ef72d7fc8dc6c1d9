"""SES bounces and complaints against moto: from the default bus through EmailFeedbackQueue to the member."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from omo2c import wiring
from omo2c.campaigns.storage import FeedbackItem
from omo2c.core.settings import Settings
from omo2c.sources.canonical import CanonicalEvent
from tests.support.aws import load_handler, sqs_event
from tests.support.events import pos_order

QUEUE_ARN = "arn:aws:sqs:ap-northeast-1:123456789012:EmailFeedbackQueue"
CAMPAIGN, RUN = "c0ffee00c0ffee00", "20261124T031500-abc123"
NOW = datetime.now(tz=UTC).replace(microsecond=0)


def record(event_id: str, *, phone: str, email: str, consent_email: bool = True) -> str:
    raw = pos_order(event_id, phone=phone, email=email, order_id=event_id, occurred_at=NOW.isoformat())
    raw["customer"]["consent"] = {"sms": True, "email": consent_email}
    return wiring.production().resolver.record(CanonicalEvent.model_validate({**raw, "source": "pos"})).member_id


def ses_detail(kind: str, address: str, member_id: str | None = None, bounce_type: str = "Permanent",
               **extra: object) -> dict:
    """An SES event record as event publishing sends it (the shape of SES's documented examples)."""
    tags = {"ses:configuration-set": ["omo2c-dev-email"], "ses:source-ip": ["192.0.2.0"],
            "ses:from-domain": ["brand.tw"], "ses:caller-identity": ["omo2c"]}
    if member_id:
        tags |= {"campaign_id": [CAMPAIGN], "run_id": [RUN], "member_id": [member_id]}
    detail: dict = {
        "eventType": kind,
        "mail": {"timestamp": "2026-11-24T03:15:01.012Z", "source": "news@brand.tw",
                 "sourceArn": "arn:aws:ses:ap-northeast-1:123456789012:identity/brand.tw",
                 "sendingAccountId": "123456789012", "messageId": "0101-ses-message-id",
                 "destination": [address], "headersTruncated": False, "tags": tags},
    }
    if kind == "Bounce":
        detail["bounce"] = {"bounceType": bounce_type, "bounceSubType": "General",
                            "bouncedRecipients": [{"emailAddress": address, "action": "failed", "status": "5.1.1",
                                                   "diagnosticCode": "smtp; 550 5.1.1 user unknown"}],
                            "timestamp": "2026-11-24T03:15:02.669Z", "feedbackId": "0101-feedback",
                            "reportingMTA": "dsn; mta.example.com"}
    else:
        detail["complaint"] = {"complainedRecipients": [{"emailAddress": address}],
                               "timestamp": "2026-11-24T03:20:00.000Z", "feedbackId": "0101-complaint",
                               "userAgent": "Mozilla/5.0", "complaintFeedbackType": "abuse",
                               "arrivalDate": "2026-11-24T03:19:00.000Z"}
    detail.update(extra)
    return detail


def envelope(detail: dict) -> dict:
    detail_type = "Email Bounced" if detail["eventType"] == "Bounce" else "Email Complaint Received"
    return {"version": "0", "id": f"ses-{detail['eventType']}-{detail['mail']['destination'][0]}",
            "detail-type": detail_type, "source": "aws.ses", "account": "123456789012",
            "time": "2026-11-24T03:15:03Z", "region": "ap-northeast-1", "resources": [], "detail": detail}


@pytest.fixture
def feedback(aws, lambda_context):
    services = wiring.Services(Settings.from_env(), clock=lambda: NOW)
    handler = load_handler("EmailFeedbackFunction")

    class Feedback:
        def __init__(self):
            self.services = services

        def deliver(self, *bodies) -> dict:
            event = sqs_event(list(bodies), QUEUE_ARN)
            return handler.lambda_handler(event, lambda_context, services=services)

        def member(self, member_id: str):
            return services.members.get_member(member_id)

        def counted(self, kind: str) -> list[str]:
            return [i.member_id for i in FeedbackItem.query(f"RUN#{CAMPAIGN}#{RUN}",
                                                            FeedbackItem.sk.startswith(f"FEEDBACK#{kind}#"))]

    return Feedback()


def test_a_permanent_bounce_switches_email_off_for_that_address_and_counts_once(feedback):
    member_id = record("f-1", phone="0955-222-301", email="Dead@Example.com")
    body = envelope(ses_detail("Bounce", "dead@example.com", member_id))
    assert feedback.deliver(body) == {"batchItemFailures": []}
    member = feedback.member(member_id)
    assert member.consent["email"] is False and member.consent["sms"] is True
    assert member.email_bounced == "dead@example.com" and member.deliverable_email is None
    assert feedback.counted("bounced") == [member_id]

    version = member.version
    assert feedback.deliver(body, body) == {"batchItemFailures": []}  # SES and SQS both redeliver
    assert feedback.member(member_id).version == version, "nothing written twice"
    assert feedback.counted("bounced") == [member_id]


def test_a_later_consent_does_not_revive_the_dead_address_but_a_new_address_is_tried(feedback):
    member_id = record("f-2", phone="0955-222-302", email="gone@example.com")
    feedback.deliver(envelope(ses_detail("Bounce", "gone@example.com", member_id)))
    record("f-2b", phone="0955-222-302", email="gone@example.com")  # the counter ticks e-mail consent again
    member = feedback.member(member_id)
    assert member.consent["email"] is True and member.email_bounced == "gone@example.com"
    assert member.deliverable_email is None
    record("f-2c", phone="0955-222-302", email="new@example.com")
    assert feedback.member(member_id).deliverable_email == "new@example.com"


def test_a_complaint_switches_email_off_and_counts_complained(feedback):
    member_id = record("f-3", phone="0955-222-303", email="angry@example.com")
    assert feedback.deliver(envelope(ses_detail("Complaint", "angry@example.com", member_id))) == {
        "batchItemFailures": []}
    member = feedback.member(member_id)
    assert member.consent["email"] is False and member.email_bounced == "angry@example.com"
    assert feedback.counted("complained") == [member_id] and feedback.counted("bounced") == []


def test_a_transient_bounce_changes_nothing(feedback):
    member_id = record("f-4", phone="0955-222-304", email="full@example.com")
    before = feedback.member(member_id)
    detail = ses_detail("Bounce", "full@example.com", member_id, bounce_type="Transient")
    assert feedback.services.email_preferences.feedback(detail) == "transient bounce ignored"
    assert feedback.deliver(envelope(detail)) == {"batchItemFailures": []}
    after = feedback.member(member_id)
    assert (after.consent, after.email_bounced, after.version) == (before.consent, None, before.version)
    assert feedback.counted("bounced") == []


def test_an_unknown_address_is_no_member_and_no_error(feedback):
    detail = ses_detail("Bounce", "nobody@example.com")
    assert feedback.services.email_preferences.feedback(detail) == "no member"
    assert feedback.deliver(envelope(detail)) == {"batchItemFailures": []}


def test_a_malformed_record_fails_only_itself(feedback):
    member_id = record("f-6", phone="0955-222-306", email="ok@example.com")
    good = envelope(ses_detail("Bounce", "ok@example.com", member_id))
    not_ses = {**good, "source": "omo2c.ingest"}
    no_recipients = envelope(ses_detail("Bounce", "ok@example.com", member_id,
                                        bounce={"bouncedRecipients": [{"status": "5.1.1"}]}))
    result = feedback.deliver("{not json", not_ses, good, no_recipients, {"detail-type": "Email Bounced"})
    assert sorted(f["itemIdentifier"] for f in result["batchItemFailures"]) == ["m-0", "m-1", "m-3", "m-4"]
    assert feedback.member(member_id).consent["email"] is False


def test_an_ses_event_on_the_default_bus_reaches_the_feedback_queue(feedback, aws):
    """EmailFeedbackRule names no bus: SES publishes to the account's default one."""
    import boto3

    member_id = record("f-7", phone="0955-222-307", email="bus@example.com")
    detail = ses_detail("Bounce", "bus@example.com", member_id)
    boto3.client("events").put_events(Entries=[{"Source": "aws.ses", "DetailType": "Email Bounced",
                                                "Detail": json.dumps(detail)}])
    queue_url = aws["stack"].queue_url("EmailFeedbackQueue")
    messages = aws["sqs"].receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    assert feedback.deliver(messages[0]["Body"]) == {"batchItemFailures": []}
    assert feedback.member(member_id).email_bounced == "bus@example.com"
