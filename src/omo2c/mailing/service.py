"""A member's e-mail preferences: the one-click unsubscribe link, and what SES says about an address.

* :meth:`EmailPreferences.unsubscribe` — a signed link from a campaign e-mail turns the member's
  e-mail consent off at once (on the survivor when the member has been merged since) and counts
  ``unsubscribed`` for the run it came from. A second click, or a mail client's one-click POST after a
  human's GET, changes and counts nothing more and answers the same.
* :meth:`EmailPreferences.feedback` — a permanent bounce or a complaint switches e-mail off for the
  member who owns that address and keeps the address as bounced (a consent given later is not sent
  to it, a new address is), and counts ``bounced``/``complained`` for the run its tags name.
  Transient bounces change nothing: SES retried already, and the next send will try again.

Both are idempotent under redelivery; no address appears in a log line unmasked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any, Protocol

from omo2c.core.errors import NotFound
from omo2c.core.privacy import mask_email
from omo2c.identity.identifiers import Identifier, IdentifierKind, InvalidIdentifier, normalize_email
from omo2c.mailing.feedback import SesEvent
from omo2c.mailing.tokens import UnsubscribeTokens

if TYPE_CHECKING:
    from omo2c.members.model import Member

log = logging.getLogger("omo2c.mailing")
INVALID_LINK = "this unsubscribe link is not valid"
CHANNEL = "email"
UNSUBSCRIBED, ALREADY_UNSUBSCRIBED = "unsubscribed", "already_unsubscribed"
TRANSIENT_IGNORED, NO_MEMBER = "transient bounce ignored", "no member"


class Members(Protocol):
    def get_member(self, member_id: str) -> Member | None: ...

    def find_by_identifier(self, identifier: Identifier) -> Member | None: ...

    def set_email_consent(self, member: Member, on: bool) -> None: ...

    def suppress_email(self, member: Member, address: str) -> None: ...


class Feedback(Protocol):
    def note_feedback(self, campaign_id: str, run_id: str, member_id: str, kind: str, channel: str,
                      at: str) -> bool: ...


class EmailPreferences:
    def __init__(self, members: Members, feedback: Feedback, tokens: UnsubscribeTokens,
                 clock: Callable[[], datetime]) -> None:
        self.members = members
        self.feedback_store = feedback
        self.tokens = tokens
        self.clock = clock

    # ------------------------------------------------------------------ the link in every e-mail
    def unsubscribe(self, token: str) -> str:
        """``unsubscribed`` (consent turned off now) or ``already_unsubscribed``; a bad token is NotFound."""
        claim = self.tokens.read(token)
        if claim is None:
            raise NotFound(INVALID_LINK)
        member = self.members.get_member(claim.member_id)
        outcome = ALREADY_UNSUBSCRIBED
        if member is not None and member.consent.get(CHANNEL) is not False:
            self.members.set_email_consent(member, False)
            outcome = UNSUBSCRIBED
        counted = self.feedback_store.note_feedback(claim.campaign_id, claim.run_id, claim.member_id, "unsubscribed",
                                                    CHANNEL, self.clock().isoformat())
        log.info("e-mail unsubscribe", extra={"outcome": outcome, "counted": counted,
                                              "campaign_id": claim.campaign_id, "run_id": claim.run_id})
        return outcome

    # ------------------------------------------------------------------ what SES reports
    def feedback(self, detail: dict[str, Any]) -> str:
        """``bounced`` / ``complained`` (e-mail off for the address), ``transient bounce ignored``, ``no member``
        or ``ignored`` (another event type, a complaint marked not-spam). A malformed detail raises."""
        event = SesEvent.model_validate(detail)
        if event.event_type == "Bounce" and event.bounce is not None:
            if event.bounce.bounce_type != "Permanent":
                return TRANSIENT_IGNORED
            kind, recipients = "bounced", event.bounce.bounced_recipients
        elif event.event_type == "Complaint" and event.complaint is not None:
            if (event.complaint.feedback_type or "").lower() == "not-spam":
                return "ignored"
            kind, recipients = "complained", event.complaint.complained_recipients
        else:
            return "ignored"
        addresses = [r.email_address for r in recipients]
        found = [self._suppress(address) for address in addresses]
        at = self.clock().isoformat()
        campaign_id, run_id, member_id = (event.mail.tag(name) for name in ("campaign_id", "run_id", "member_id"))
        if campaign_id and run_id and member_id:
            self.feedback_store.note_feedback(campaign_id, run_id, member_id, kind, CHANNEL, at)
        if not any(found):
            log.info("e-mail feedback for no member", extra={"kind": kind, "addresses": len(addresses)})
            return NO_MEMBER
        return kind

    def _suppress(self, raw: str) -> bool:
        """E-mail off for the live member owning the address; whether there was one."""
        try:
            address = normalize_email(parseaddr(raw)[1] or raw)
        except InvalidIdentifier:
            log.warning("e-mail feedback names no valid address", extra={"address": mask_email(raw)})
            return False
        member = self.members.find_by_identifier(Identifier(IdentifierKind.EMAIL, address))
        if member is None:
            return False
        self.members.suppress_email(member, address)
        log.info("e-mail suppressed", extra={"member_id": member.member_id, "address": mask_email(address)})
        return True
