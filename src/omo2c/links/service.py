"""Share links as staff, campaigns and customers use them: create, open (count and redirect), list, credit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from itertools import islice
from typing import Protocol

from omo2c.core.errors import Conflict, InvalidEvent, NotFound, Unavailable
from omo2c.core.observability import logger
from omo2c.links.model import (
    ShareLink,
    campaign_link_codes,
    is_bot,
    is_link_code,
    new_link_code,
    target_url,
    visitor_key,
    with_campaign,
    with_referral,
)
from omo2c.staff.model import StaffCode

CODE_ATTEMPTS = 5


class LinkStore(Protocol):
    def add(self, link: ShareLink) -> None: ...

    def get(self, code: str, consistent: bool = False) -> ShareLink | None: ...

    def counts(self, codes: list[str]) -> dict[str, dict[str, int]]: ...

    def by_staff(self, staff_id: str, limit: int = 50) -> list[ShareLink]: ...

    def record_click(self, link: ShareLink, at: datetime, visitor: str, bot: bool) -> str: ...


class ShareLinks:
    def __init__(self, store: LinkStore, clock: Callable[[], datetime]) -> None:
        self.store, self.clock = store, clock

    def create(self, staff_id: str, url: str) -> ShareLink:
        """A new code for the URL, created to the second as it is stored; a drawn code already taken
        (vanishingly rare) is drawn again."""
        target = target_url(url)
        for _ in range(CODE_ATTEMPTS):
            link = ShareLink(new_link_code(), staff_id, target, self.clock().replace(microsecond=0), 0, 0, 0)
            try:
                self.store.add(link)
            except Conflict:
                continue
            return link
        raise Conflict("no free link code was found; try again")

    def campaign_link(self, campaign_id: str, run_id: str, channel: str, url: str) -> ShareLink:
        """The one link of this campaign run's message on this channel to this URL, stored on first use.

        Its code is derived from the four values, so asking again (a retried send, another member of the
        run) returns the same link; a different link already under the derived code (vanishingly rare) moves
        it to the next derived code. The link has no staff member: it never credits one."""
        problems = [{"field": name, "problem": "required"}
                    for name, value in (("campaign_id", campaign_id), ("run_id", run_id), ("channel", channel))
                    if not isinstance(value, str) or not value.strip()]
        if problems:
            raise InvalidEvent("a campaign link needs its campaign, run and channel", problems)
        target = target_url(url)
        for code in islice(campaign_link_codes(campaign_id, run_id, channel, target), CODE_ATTEMPTS):
            link = ShareLink(code, None, target, self.clock().replace(microsecond=0), 0, 0, 0,
                             campaign_id=campaign_id, run_id=run_id, channel=channel)
            known = self.store.get(code)  # every send of the run after the first: one read, no write
            if known is not None:
                if known.same_target(link):
                    return known
                continue
            try:
                self.store.add(link)
            except Conflict:
                existing = self.store.get(code, consistent=True)
                if existing is not None and existing.same_target(link):
                    return existing
                continue
            return link
        raise Conflict("no free link code was found for the campaign link")

    def campaign_counts(self, codes: list[str]) -> dict[str, dict[str, int]]:
        """``{code: {"clicks", "bot_clicks", "repeat_clicks"}}`` for every code asked (zeros for an unknown one),
        one BatchGetItem per 100 codes."""
        wanted = list(dict.fromkeys(codes))
        found = self.store.counts([c for c in wanted if is_link_code(c)])
        zero = {"clicks": 0, "bot_clicks": 0, "repeat_clicks": 0}
        return {code: dict(found.get(code, zero)) for code in wanted}

    def get(self, code: str) -> ShareLink | None:
        return self.store.get(code) if is_link_code(code) else None

    def open(self, code: str, user_agent: str | None, source_ip: str | None) -> str:
        """Where the click goes, with this click's referral (a campaign link: the campaign's ``utm_`` parameters);
        counting it never stands in the visitor's way."""
        link = self.get(code)
        if link is None:
            raise NotFound("no such link")
        at = self.clock()
        try:
            outcome = self.store.record_click(link, at, visitor_key(code, source_ip, user_agent), is_bot(user_agent))
        except (Unavailable, Conflict) as exc:
            logger.warning("share link click not counted", extra={"code": code, "reason": exc.message})
        else:
            logger.info("share link opened", extra={"code": code, "outcome": outcome})
        if link.campaign_id is not None:
            return with_campaign(link.url, link.campaign_id, link.channel or "")
        return with_referral(link.url, link.code, link.created_at, at)

    def list(self, staff_id: str, limit: int = 50) -> list[ShareLink]:
        return self.store.by_staff(staff_id, limit)

    @staticmethod
    def short_url(base_url: str, code: str) -> str:
        return f"{base_url.rstrip('/')}/r/{code}"

    def code(self, code: str) -> StaffCode | None:
        """A link's code as attribution reads staff codes: it credits its staff member while the link exists
        (a campaign link credits nobody)."""
        link = self.get(code)
        if link is None or link.staff_id is None or link.campaign_id is not None:
            return None
        return StaffCode(link.code, link.staff_id, "active", link.created_at)
