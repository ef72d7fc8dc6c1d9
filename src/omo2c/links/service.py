"""Share links as staff and customers use them: create, open (count and redirect), list, credit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from omo2c.core.errors import Conflict, NotFound, Unavailable
from omo2c.core.observability import logger
from omo2c.links.model import ShareLink, is_bot, is_link_code, new_link_code, target_url, visitor_key, with_referral
from omo2c.staff.model import StaffCode

CODE_ATTEMPTS = 5


class LinkStore(Protocol):
    def add(self, link: ShareLink) -> None: ...

    def get(self, code: str) -> ShareLink | None: ...

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

    def get(self, code: str) -> ShareLink | None:
        return self.store.get(code) if is_link_code(code) else None

    def open(self, code: str, user_agent: str | None, source_ip: str | None) -> str:
        """Where the click goes, with this click's referral; counting it never stands in the visitor's way."""
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
        return with_referral(link.url, link.code, link.created_at, at)

    def list(self, staff_id: str, limit: int = 50) -> list[ShareLink]:
        return self.store.by_staff(staff_id, limit)

    @staticmethod
    def short_url(base_url: str, code: str) -> str:
        return f"{base_url.rstrip('/')}/r/{code}"

    def code(self, code: str) -> StaffCode | None:
        """A link's code as attribution reads staff codes: it credits its staff member while the link exists."""
        link = self.get(code)
        return StaffCode(link.code, link.staff_id, "active", link.created_at) if link else None
