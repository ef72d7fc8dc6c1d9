"""Tiers and points of the membership programme: orders and merges from the bus, redemptions, the review.

Every step reads the member's loyalty once and writes it once, conditioned on the version read; a
concurrent writer makes it read again, so a balance never goes negative however many redemptions
race. A member merged away leads to the survivor, whose loyalty holds everything.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import islice
from typing import Any, Protocol

from omo2c.core.errors import Conflict, NotFound
from omo2c.events import BusEvent, MemberMerged, MemberTierChanged, OrderRecorded
from omo2c.loyalty.model import (
    Holding,
    LoyaltyAccount,
    LoyaltyPolicy,
    OrderFacts,
    Redemption,
    TierMark,
    iso,
    merge_key,
    order_key,
)

MAX_ATTEMPTS = 16
MAX_HOPS = 8
REVIEW_PAGE = 50


class LoyaltyPort(Protocol):
    def read(self, member_ids: Sequence[str]) -> dict[str, Holding]: ...

    def commit(self, accounts: Sequence[LoyaltyAccount], tiers: Sequence[TierMark] = ()) -> None: ...

    def tier_members(self, tier_id: str) -> Iterable[str]: ...


def now_utc() -> datetime:
    return datetime.now(tz=UTC)


def _pages(ids: Iterable[str], size: int) -> Iterator[list[str]]:
    it = iter(ids)
    while page := list(islice(it, size)):
        yield page


class Loyalty:
    def __init__(self, store: LoyaltyPort, policy: LoyaltyPolicy, publish: Callable[[list[BusEvent]], None],
                 clock: Callable[[], datetime] = now_utc, sleep: Callable[[float], None] = time.sleep) -> None:
        self.store, self.policy, self._publish, self.clock, self.sleep = store, policy, publish, clock, sleep

    def _announce(self, events: Sequence[MemberTierChanged]) -> None:
        if events:
            self._publish(list(events))

    def _backoff(self, attempt: int) -> None:
        self.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # noqa: S311 - jitter, not crypto

    def _locate(self, member_id: str) -> tuple[str, Holding]:
        """The member whose loyalty this is now, following merges (one read when there were none)."""
        for _ in range(MAX_HOPS):
            holding = self.store.read([member_id])[member_id]
            moved = holding.moved_to
            if not moved or moved == member_id:
                return member_id, holding
            member_id = moved
        raise Conflict("too many merges to follow")

    @staticmethod
    def _marks(member_id: str, holding: Holding, account: LoyaltyAccount) -> list[TierMark]:
        """The member item shows the account's tier (written when it differs, also to heal one left behind)."""
        member = holding.member
        if not member.found or member.status != "live" or account.tier is None:
            return []
        if (member.tier, member.tier_since) == (account.tier, account.tier_since):
            return []
        return [TierMark(member_id, account.tier, account.tier_since)]

    # ------------------------------------------------------------------ the bus
    def record(self, event: OrderRecorded) -> str:
        """Apply one ``order.recorded``: redeliveries and older versions change nothing (a redelivery of the
        version applied last publishes its tier change again, in case that publish was lost)."""
        if not event.member_id:
            return "no member"
        order = OrderFacts.from_event(event)
        for attempt in range(MAX_ATTEMPTS):
            member_id, holding = self._locate(event.member_id)
            account = holding.account or LoyaltyAccount(member_id)
            if self.policy.applied(account, order):
                if account.lots[order.ref].version == order.version:
                    self._announce(account.changes_for(order_key(order)))
                return "already applied"
            updated, changes = self.policy.record_order(account, order, self.clock())
            try:
                self.store.commit([updated], self._marks(member_id, holding, updated))
            except Conflict:
                self._backoff(attempt)
                continue
            self._announce(changes)
            return "tier changed" if changes else "points updated"
        raise Conflict(f"loyalty of {event.member_id} kept changing")

    def merge(self, event: MemberMerged) -> str:
        """Move the absorbed member's loyalty to the survivor, once per merge."""
        for attempt in range(MAX_ATTEMPTS):
            survivor_id, absorbed_id = event.survivor_id, event.absorbed_id
            for _ in range(MAX_HOPS):
                holdings = self.store.read([survivor_id, absorbed_id])
                moved = holdings[survivor_id].moved_to
                if not moved or moved == survivor_id:
                    break
                survivor_id = moved
            else:
                raise Conflict("too many merges to follow")
            survivor_h, absorbed_h = holdings[survivor_id], holdings[absorbed_id]
            survivor = survivor_h.account or LoyaltyAccount(survivor_id)
            if event.merge_id in survivor.merges:
                self._announce(survivor.changes_for(merge_key(event.merge_id)))
                return "already merged"
            absorbed = absorbed_h.account
            if absorbed is None or survivor_id == absorbed_id:
                return "nothing to move"
            if absorbed.merged_into:
                return "already merged"
            updated, tombstone, changes = self.policy.merge(survivor, absorbed, event.merge_id, self.clock())
            marks = self._marks(survivor_id, survivor_h, updated)
            if absorbed_h.member.found and absorbed_h.member.tier is not None:
                marks.append(TierMark(absorbed_id, None))
            try:
                self.store.commit([updated, tombstone], marks)
            except Conflict:
                self._backoff(attempt)
                continue
            self._announce(changes)
            return "merged"
        raise Conflict(f"loyalty of {event.survivor_id} kept changing")

    # ------------------------------------------------------------------ the points API
    def _known(self, member_id: str) -> tuple[str, Holding]:
        if not 0 < len(member_id) <= 64:
            raise NotFound("no such member")
        found_id, holding = self._locate(member_id)
        if not holding.member.found and holding.account is None:
            raise NotFound("no such member")
        return found_id, holding

    def redeem(self, member_id: str, points: int, order_ref: str) -> dict[str, Any]:
        """Pay with points, all or nothing; the same ``order_ref`` again is the same redemption."""
        for attempt in range(MAX_ATTEMPTS):
            found_id, holding = self._known(member_id)
            account = holding.account or LoyaltyAccount(found_id)
            now = self.clock()
            updated, redemption, changed = self.policy.redeem(account, points, order_ref, now)
            if changed:
                try:
                    self.store.commit([updated])
                except Conflict:
                    self._backoff(attempt)
                    continue
            return self._redeemed(found_id, updated, redemption, now)
        raise Conflict("the member's points kept changing: try again")

    def _redeemed(self, member_id: str, account: LoyaltyAccount, redemption: Redemption,
                  now: datetime) -> dict[str, Any]:
        return {"member_id": member_id, "order_ref": redemption.order_ref, "points": redemption.applied,
                "redeemed_at": iso(redemption.at), "balance": self.policy.balance(account, now)}

    def points(self, member_id: str) -> dict[str, Any]:
        found_id, holding = self._known(member_id)
        now = self.clock()
        return {"member_id": found_id, "balance": self.policy.balance(holding.account, now),
                "history": self.policy.history(holding.account, now)}

    def summary(self, member_id: str) -> dict[str, Any] | None:
        """Tier and points for the member view; None for a member without either yet."""
        if not 0 < len(member_id) <= 64:
            return None
        _, holding = self._locate(member_id)
        return self.policy.summary(holding.account, self.clock())

    # ------------------------------------------------------------------ the review
    def review(self, now: datetime | None = None) -> dict[str, Any]:
        """Walk each tier above the base (lowest first, so a member moved down is not walked again) through
        the ``ByTier`` index and move down whoever no longer qualifies. Running it again changes nothing."""
        now = now or self.clock()
        checked, moves = 0, {}
        for tier in self.policy.tiers[1:]:
            for page in _pages(self.store.tier_members(tier.id), REVIEW_PAGE):
                holdings = self.store.read(page)
                for member_id in page:
                    checked += 1
                    change = self._review_one(member_id, holdings[member_id], now)
                    if change is not None:
                        move = f"{change.from_tier}>{change.to_tier}"
                        moves[move] = moves.get(move, 0) + 1
        return {"at": now.isoformat(), "checked": checked, "downgraded": sum(moves.values()), "moves": moves}

    def _review_one(self, member_id: str, holding: Holding, now: datetime) -> MemberTierChanged | None:
        for _ in range(MAX_ATTEMPTS):
            account = holding.account
            if account is None:
                return None
            if account.merged_into:
                if holding.member.found and holding.member.tier is not None:
                    with contextlib.suppress(Conflict):
                        self.store.commit([], [TierMark(member_id, None)])
                return None
            updated, changes = self.policy.review(account, now)
            marks = self._marks(member_id, holding, updated)
            if not changes and not marks:
                return None
            try:
                self.store.commit([updated] if changes else [], marks)
            except Conflict:
                holding = self.store.read([member_id])[member_id]
                continue
            self._announce(changes)
            return changes[0] if changes else None
        raise Conflict(f"loyalty of {member_id} kept changing during the review")
