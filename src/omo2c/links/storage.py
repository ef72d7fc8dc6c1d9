"""Share links, their per-staff listing and their click counters in the members table.

A campaign link is the link item alone (no staff listing, no staff month counters). Every counter
is added in the same transaction as the fact it counts: a visitor's first click writes the
visitor's marker, so the same request retried finds the marker and counts a repeat, never a
second click.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, PynamoDBException, TransactWriteError
from pynamodb.transactions import TransactWrite

from omo2c.core.dynamo import MembersTableItem, configure
from omo2c.core.errors import Conflict, Unavailable
from omo2c.core.settings import Settings
from omo2c.links.model import REPEAT_WINDOW_SECONDS, ShareLink
from omo2c.staff.storage import StaffKpiItem, kpi_update

MAX_LISTED = 100
CONFLICT_RETRIES = 3


class ShareLinkItem(MembersTableItem):
    """pk=LINK#<code>, sk=LINK: where a code opens, for whom (a staff member, or a campaign run's message on a
    channel), and how often it was opened."""

    code = UnicodeAttribute()
    staff_id = UnicodeAttribute(null=True)
    campaign_id = UnicodeAttribute(null=True)
    run_id = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(null=True)
    url = UnicodeAttribute()
    created_at = NumberAttribute()
    clicks = NumberAttribute(default=0)
    bot_clicks = NumberAttribute(default=0)
    repeat_clicks = NumberAttribute(default=0)


class StaffLinkItem(MembersTableItem):
    """pk=STAFFLINKS#<staff_id>, sk=LINK#<created epoch, 12 digits>#<code>: a staff member's links, newest
    last in key order, listed by one Query."""

    code = UnicodeAttribute()
    staff_id = UnicodeAttribute()
    url = UnicodeAttribute()
    created_at = NumberAttribute()


class LinkClickItem(MembersTableItem):
    """pk=LINKCLICK#<code>#<visitor digest>, sk=CLICK: this visitor clicked within the last day.

    ``expires_at`` is the table's TTL; TTL deletes late, so an expired marker still present counts as gone."""

    expires_at = NumberAttribute()


MODELS = (ShareLinkItem, StaffLinkItem, LinkClickItem, StaffKpiItem)
COUNTERS = ("clicks", "bot_clicks", "repeat_clicks")


def link_key(code: str) -> tuple[str, str]:
    return f"LINK#{code}", "LINK"


def staff_link_key(staff_id: str, created_epoch: int, code: str) -> tuple[str, str]:
    return f"STAFFLINKS#{staff_id}", f"LINK#{created_epoch:012d}#{code}"


def _epoch(at: datetime) -> int:
    return int(at.timestamp())


def _moment(epoch: Any) -> datetime:
    return datetime.fromtimestamp(int(epoch), tz=UTC)


def _reasons(exc: TransactWriteError) -> list[str | None]:
    return [reason.code if reason is not None else None for reason in exc.cancellation_reasons or []]


def _failed_condition(exc: TransactWriteError, index: int) -> bool:
    reasons = _reasons(exc)
    return index < len(reasons) and reasons[index] == "ConditionalCheckFailed"


class ShareLinkStore:
    def __init__(self, settings: Settings) -> None:
        configure(settings, MODELS)

    def add(self, link: ShareLink) -> None:
        """The link and its listing together; a code already taken is a :class:`Conflict` (draw another).

        A campaign link has no listing: one conditional put."""
        created = _epoch(link.created_at)
        if link.staff_id is None:
            self._add_campaign(link, created)
            return
        try:
            with TransactWrite(connection=ShareLinkItem._get_connection().connection) as tx:
                tx.save(ShareLinkItem(*link_key(link.code), code=link.code, staff_id=link.staff_id, url=link.url,
                                      created_at=created), condition=ShareLinkItem.pk.does_not_exist())
                tx.save(StaffLinkItem(*staff_link_key(link.staff_id, created, link.code), code=link.code,
                                      staff_id=link.staff_id, url=link.url, created_at=created),
                        condition=StaffLinkItem.pk.does_not_exist())
        except TransactWriteError as exc:
            raise Conflict("the link code is taken") from exc

    @staticmethod
    def _add_campaign(link: ShareLink, created: int) -> None:
        item = ShareLinkItem(*link_key(link.code), code=link.code, campaign_id=link.campaign_id, run_id=link.run_id,
                             channel=link.channel, url=link.url, created_at=created)
        try:
            item.save(condition=ShareLinkItem.pk.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                raise Conflict("the link code is taken") from exc
            raise Unavailable("the campaign link could not be stored") from exc

    def get(self, code: str, consistent: bool = False) -> ShareLink | None:
        try:
            item = ShareLinkItem.get(*link_key(code), consistent_read=consistent)
        except ShareLinkItem.DoesNotExist:
            return None
        return ShareLink(item.code, item.staff_id, item.url, _moment(item.created_at), int(item.clicks or 0),
                         int(item.bot_clicks or 0), int(item.repeat_clicks or 0), campaign_id=item.campaign_id,
                         run_id=item.run_id, channel=item.channel)

    def counts(self, codes: list[str]) -> dict[str, dict[str, int]]:
        """The counters of the links that exist among ``codes``: one BatchGetItem per 100 (pynamodb pages them
        and asks again for any unprocessed keys)."""
        if not codes:
            return {}
        try:
            items = list(ShareLinkItem.batch_get([link_key(c) for c in dict.fromkeys(codes)],
                                                 attributes_to_get=["code", *COUNTERS]))
        except PynamoDBException as exc:
            raise Unavailable("the link counters could not be read") from exc
        return {item.code: {name: int(getattr(item, name) or 0) for name in COUNTERS} for item in items}

    def by_staff(self, staff_id: str, limit: int = 50) -> list[ShareLink]:
        """Newest first, without counters (they live on each link)."""
        limit = max(1, min(limit, MAX_LISTED))
        items = StaffLinkItem.query(f"STAFFLINKS#{staff_id}", StaffLinkItem.sk.startswith("LINK#"),
                                    scan_index_forward=False, limit=limit)
        return [ShareLink(i.code, i.staff_id, i.url, _moment(i.created_at)) for i in items]

    def record_click(self, link: ShareLink, at: datetime, visitor: str, bot: bool) -> str:
        """Count one opening as ``"click"``, ``"repeat"`` (same visitor within a day) or ``"bot"``.

        Raises :class:`Unavailable` when DynamoDB keeps refusing: the click is then not counted."""
        try:
            for _ in range(CONFLICT_RETRIES):
                outcome = self._count(link, at, visitor, bot)
                if outcome is not None:
                    return outcome
        except PynamoDBException as exc:
            raise Unavailable("the click could not be counted") from exc
        raise Unavailable("the click kept conflicting with others")

    def _count(self, link: ShareLink, at: datetime, visitor: str, bot: bool) -> str | None:
        """One attempt; None when a concurrent transaction on the same counters cancelled it (try again)."""
        now = _epoch(at)
        try:
            if bot:
                self._add(link, at, "bot_clicks")
                return "bot"
            marker = LinkClickItem(f"LINKCLICK#{link.code}#{visitor}", "CLICK",
                                   expires_at=now + REPEAT_WINDOW_SECONDS)
            try:
                self._add(link, at, "clicks", marker=marker,
                          condition=LinkClickItem.pk.does_not_exist() | (LinkClickItem.expires_at <= now))
            except TransactWriteError as exc:
                if not _failed_condition(exc, 0):
                    raise
                self._add(link, at, "repeat_clicks")
                return "repeat"
            return "click"
        except TransactWriteError as exc:
            if "ConditionalCheckFailed" in _reasons(exc):
                raise Conflict("the link is gone") from exc
            if "TransactionConflict" in _reasons(exc):
                return None
            raise

    @staticmethod
    def _add(link: ShareLink, at: datetime, counter: str, marker: LinkClickItem | None = None,
             condition: Any = None) -> None:
        """The link's counter and the staff member's month counter (a campaign link has none) in one transaction,
        with the visitor's marker when there is one (first in the transaction, so its cancellation reason is the
        first)."""
        with TransactWrite(connection=ShareLinkItem._get_connection().connection) as tx:
            if marker is not None:
                tx.save(marker, condition=condition)
            tx.update(ShareLinkItem(*link_key(link.code)), actions=[getattr(ShareLinkItem, counter).add(1)],
                      condition=ShareLinkItem.pk.exists())
            if link.staff_id is not None:
                item, actions = kpi_update(link.staff_id, at, {counter: 1})
                tx.update(item, actions=actions)
