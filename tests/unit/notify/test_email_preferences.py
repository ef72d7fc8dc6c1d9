"""EmailPreferences without AWS: what each SES event and unsubscribe link does, with fake stores."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from omo2c.core.errors import NotFound
from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.mailing.service import EmailPreferences
from omo2c.mailing.tokens import UnsubscribeTokens
from omo2c.members.model import Member

NOW = datetime(2026, 11, 24, 3, 15, tzinfo=UTC)
TAGS = {"campaign_id": ["c1"], "run_id": ["r1"], "member_id": ["m1"]}


class FakeMembers:
    def __init__(self, *members: Member) -> None:
        self.by_id = {m.member_id: m for m in members}
        self.writes: list[tuple[str, object]] = []

    def get_member(self, member_id: str) -> Member | None:
        member = self.by_id.get(member_id)
        while member is not None and member.merged_into:
            member = self.by_id.get(member.merged_into)
        return member

    def find_by_identifier(self, identifier: Identifier) -> Member | None:
        return next((self.get_member(m.member_id) for m in self.by_id.values() if identifier in m.identifiers), None)

    def set_email_consent(self, member: Member, on: bool) -> None:
        self.writes.append(("consent", on))
        self.by_id[member.member_id] = replace(member, consent={**member.consent, "email": on})

    def suppress_email(self, member: Member, address: str) -> None:
        self.writes.append(("suppress", address))
        self.by_id[member.member_id] = replace(member, consent={**member.consent, "email": False},
                                               email_bounced=address)


class FakeFeedback:
    def __init__(self) -> None:
        self.noted: set[tuple[str, ...]] = set()

    def note_feedback(self, campaign_id, run_id, member_id, kind, channel, at) -> bool:
        key = (campaign_id, run_id, member_id, kind, channel)
        new = key not in self.noted
        self.noted.add(key)
        return new


def member(member_id: str = "m1", *emails: str, merged_into: str | None = None) -> Member:
    return Member(member_id, 0, status="merged" if merged_into else "live", merged_into=merged_into,
                  identifiers=[Identifier(IdentifierKind.EMAIL, e) for e in emails], consent={"email": True})


def preferences(*members: Member) -> tuple[EmailPreferences, FakeMembers, FakeFeedback]:
    store, feedback = FakeMembers(*members), FakeFeedback()
    tokens = UnsubscribeTokens(lambda: "k", 400, lambda: NOW)
    return EmailPreferences(store, feedback, tokens, lambda: NOW), store, feedback


def bounce(*addresses: str, bounce_type: str = "Permanent", tags: dict | None = None) -> dict:
    return {"eventType": "Bounce", "mail": {"messageId": "x", "destination": list(addresses), "tags": tags or {}},
            "bounce": {"bounceType": bounce_type, "bouncedRecipients": [{"emailAddress": a} for a in addresses]}}


def complaint(address: str, feedback_type: str | None = "abuse") -> dict:
    return {"eventType": "Complaint", "mail": {"destination": [address], "tags": TAGS},
            "complaint": {"complainedRecipients": [{"emailAddress": address}], "complaintFeedbackType": feedback_type}}


def test_every_bounced_recipient_is_suppressed_and_the_run_counted_once():
    service, store, feedback = preferences(member("m1", "a@example.com"), member("m2", "b@example.com"))
    assert service.feedback(bounce("A@Example.com", "Mei <b@example.com>", tags=TAGS)) == "bounced"
    assert store.by_id["m1"].email_bounced == "a@example.com" and store.by_id["m2"].email_bounced == "b@example.com"
    assert feedback.noted == {("c1", "r1", "m1", "bounced", "email")}


def test_without_our_tags_nothing_is_counted_but_the_address_is_still_suppressed():
    service, store, feedback = preferences(member("m1", "a@example.com"))
    assert service.feedback(bounce("a@example.com")) == "bounced"
    assert store.by_id["m1"].consent["email"] is False and feedback.noted == set()


@pytest.mark.parametrize("bounce_type", ["Transient", "Undetermined"])
def test_only_permanent_bounces_act(bounce_type):
    service, store, feedback = preferences(member("m1", "a@example.com"))
    assert service.feedback(bounce("a@example.com", bounce_type=bounce_type, tags=TAGS)) == "transient bounce ignored"
    assert store.writes == [] and feedback.noted == set()


def test_a_complaint_marked_not_spam_changes_nothing():
    service, store, _ = preferences(member("m1", "a@example.com"))
    assert service.feedback(complaint("a@example.com", "not-spam")) == "ignored"
    assert service.feedback(complaint("a@example.com", None)) == "complained"
    assert store.writes == [("suppress", "a@example.com")]


def test_other_event_types_and_junk_addresses():
    service, store, _ = preferences(member("m1", "a@example.com"))
    assert service.feedback({"eventType": "Delivery", "mail": {}}) == "ignored"
    assert service.feedback(bounce("not an address")) == "no member"
    assert service.feedback(bounce()) == "no member"
    assert store.writes == []


@pytest.mark.parametrize("detail", [{}, {"eventType": "Bounce"}, {"eventType": "Bounce", "mail": {"tags": "x"}},
                                    {"eventType": "Bounce", "mail": {}, "bounce": {"bouncedRecipients": []}}])
def test_a_malformed_detail_raises(detail):
    service, _, _ = preferences()
    with pytest.raises(ValidationError):
        service.feedback(detail)


def test_unsubscribe_follows_the_merge_and_counts_the_member_sent_to():
    service, store, feedback = preferences(member("old", "a@example.com"), member("new", merged_into="old"))
    token = service.tokens.issue("new", "c1", "r1")
    assert service.unsubscribe(token) == "unsubscribed"
    assert store.by_id["old"].consent["email"] is False
    assert service.unsubscribe(token) == "already_unsubscribed"
    assert store.writes == [("consent", False)]
    assert feedback.noted == {("c1", "r1", "new", "unsubscribed", "email")}


def test_unsubscribe_of_a_member_no_longer_there_answers_done_and_a_bad_token_is_not_found():
    service, store, _ = preferences()
    assert service.unsubscribe(service.tokens.issue("gone", "c1", "r1")) == "already_unsubscribed"
    with pytest.raises(NotFound, match="this unsubscribe link is not valid"):
        service.unsubscribe("junk")
    assert store.writes == []
