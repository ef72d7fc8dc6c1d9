"""One-click unsubscribe against moto: the signed link turns e-mail off at once, counts once, follows merges."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from omo2c import wiring
from omo2c.campaigns.storage import FeedbackItem
from omo2c.core.settings import Settings
from omo2c.sources.canonical import CanonicalEvent
from tests.support.aws import http_event, load_handler
from tests.support.events import pos_order

NOW = datetime.now(tz=UTC).replace(microsecond=0)
CAMPAIGN, RUN = "c0ffee00c0ffee00", "20261124T031500-abc123"
CSP = "default-src 'none'; style-src 'unsafe-inline'"


def record(event_id: str, *, phone: str | None = None, email: str | None = None, at: datetime = NOW,
           consent: dict | None = None) -> str:
    raw = pos_order(event_id, phone=phone, email=email, order_id=event_id, occurred_at=at.isoformat())
    raw["customer"]["consent"] = consent if consent is not None else {"sms": True, "email": True}
    return wiring.production().resolver.record(CanonicalEvent.model_validate({**raw, "source": "pos"})).member_id


@pytest.fixture
def mail(aws, lambda_context, monkeypatch):
    monkeypatch.setenv("OMO_BRAND_NAME", "熟成茶行")
    now = [NOW]
    services = wiring.Services(Settings.from_env(), clock=lambda: now[0])
    handler = load_handler("UnsubscribeFunction")

    class Mail:
        def __init__(self):
            self.now, self.services = now, services

        def click(self, token: str, method: str = "GET", body: str = "") -> dict:
            headers = {"Content-Type": "application/x-www-form-urlencoded"} if method == "POST" else {}
            event = http_event(method, f"/u/{token}", route="/u/{token}", path_params={"token": token},
                               headers=headers, body=body, caller=None)
            return handler.lambda_handler(event, lambda_context, services=services)

        def consent(self, member_id: str) -> bool | None:
            return services.members.get_member(member_id).consent.get("email")

        def counted(self, kind: str = "unsubscribed") -> list[str]:
            return [i.member_id for i in FeedbackItem.query(f"RUN#{CAMPAIGN}#{RUN}",
                                                            FeedbackItem.sk.startswith(f"FEEDBACK#{kind}#"))]

    return Mail()


def assert_page(response: dict, status: int, words: str) -> None:
    assert response["statusCode"] == status
    headers = response["headers"]
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"] == CSP
    assert headers["X-Content-Type-Options"] == "nosniff" and headers["Cache-Control"] == "no-store"
    assert words in response["body"] and '<html lang="zh-Hant">' in response["body"]


def test_a_click_turns_email_off_at_once_and_counts_once(mail):
    member_id = record("u-1", phone="0955-111-201", email="mei@example.com")
    assert mail.consent(member_id) is True
    token = mail.services.unsubscribe_tokens.issue(member_id, CAMPAIGN, RUN)

    first = mail.click(token)
    assert_page(first, 200, "已取消訂閱")
    assert "熟成茶行" in first["body"]
    assert mail.consent(member_id) is False
    assert mail.counted() == [member_id]

    again = mail.click(token)
    assert again["statusCode"] == 200 and again["body"] == first["body"]
    assert mail.counted() == [member_id]
    assert mail.services.members.get_member(member_id).consent["sms"] is True, "other channels are untouched"


def test_a_mail_clients_one_click_post_does_the_same_with_any_body(mail):
    member_id = record("u-2", phone="0955-111-202", email="lin@example.com")
    token = mail.services.unsubscribe_tokens.issue(member_id, CAMPAIGN, RUN)
    assert_page(mail.click(token, "POST", "List-Unsubscribe=One-Click"), 200, "已取消訂閱")
    assert mail.consent(member_id) is False
    assert_page(mail.click(token, "POST", "whatever"), 200, "已取消訂閱")
    assert_page(mail.click(token, "GET"), 200, "已取消訂閱")
    assert mail.counted() == [member_id]


def test_the_store_does_not_write_again_when_email_is_already_off(mail):
    member_id = record("u-3", phone="0955-111-203", email="off@example.com", consent={"sms": True, "email": False})
    before = mail.services.members.get_member(member_id).version
    token = mail.services.unsubscribe_tokens.issue(member_id, CAMPAIGN, RUN)
    assert mail.services.email_preferences.unsubscribe(token) == "already_unsubscribed"
    assert mail.click(token)["statusCode"] == 200
    assert mail.services.members.get_member(member_id).version == before
    assert mail.counted() == [member_id], "the click is still this run's unsubscribe, once"


def tampered(token: str) -> str:
    return token[:10] + ("A" if token[10] != "A" else "B") + token[11:]


@pytest.mark.parametrize("make", [
    pytest.param(tampered, id="tampered"),
    pytest.param(lambda t: t[:-2], id="truncated"),
    pytest.param(lambda t: "x" * 20, id="junk"),
    pytest.param(lambda t: "A" * 400, id="too-long"),
    pytest.param(lambda t: "%3Cscript%3E", id="script"),
])
def test_a_bad_link_is_a_404_page_and_changes_nothing(mail, make):
    member_id = record("u-4", phone="0955-111-204", email="keep@example.com")
    token = make(mail.services.unsubscribe_tokens.issue(member_id, CAMPAIGN, RUN))
    before = mail.services.members.get_member(member_id)
    for method in ("GET", "POST"):
        response = mail.click(token, method)
        assert_page(response, 404, "這個連結無效")
        assert "<script>" not in response["body"]
    after = mail.services.members.get_member(member_id)
    assert (after.consent, after.version) == (before.consent, before.version)
    assert mail.counted() == []


def test_an_expired_link_is_a_404_page(mail):
    member_id = record("u-5", phone="0955-111-205", email="old@example.com")
    token = mail.services.unsubscribe_tokens.issue(member_id, CAMPAIGN, RUN)
    mail.now[0] = NOW + timedelta(days=mail.services.settings.unsubscribe_token_days + 1)
    assert_page(mail.click(token), 404, "這個連結無效")
    assert mail.consent(member_id) is True and mail.counted() == []


def test_the_link_of_a_merged_member_unsubscribes_the_survivor(mail):
    older = record("u-6a", phone="0955-111-206", at=NOW - timedelta(days=30))
    newer = record("u-6b", email="merge@example.com", at=NOW - timedelta(days=10))
    assert older != newer
    token = mail.services.unsubscribe_tokens.issue(newer, CAMPAIGN, RUN)  # the e-mail went to the newer member
    survivor = record("u-6c", phone="0955-111-206", email="merge@example.com", at=NOW - timedelta(days=1))
    assert survivor == older and mail.services.members.member_as_stored(newer).merged_into == older
    assert mail.consent(older) is True

    assert_page(mail.click(token), 200, "已取消訂閱")
    assert mail.consent(older) is False
    assert mail.counted() == [newer], "counted for the member the run sent to"


def test_a_concurrent_change_is_retried_on_the_member_read_again(mail):
    member_id = record("u-7", phone="0955-111-207", email="race@example.com")
    stale = mail.services.members.get_member(member_id)
    mail.services.members.set_opt_out(stale, True)  # another writer moved the version on
    mail.services.members.set_email_consent(stale, False)
    fresh = mail.services.members.get_member(member_id)
    assert fresh.consent["email"] is False and fresh.opted_out is True
