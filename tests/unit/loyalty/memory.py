"""An in-memory stand-in for the loyalty store: the same versions and conditions, no AWS."""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence

from omo2c.core.errors import Conflict
from omo2c.loyalty.model import Holding, LoyaltyAccount, MemberFacts, TierMark


class MemoryLoyaltyStore:
    def __init__(self, members: Sequence[str] = ()) -> None:
        self.accounts: dict[str, LoyaltyAccount] = {}
        self.members: dict[str, MemberFacts] = {m: MemberFacts(found=True) for m in members}
        self.reads = self.commits = 0
        self.fail_next_commits = 0
        self._lock = threading.Lock()

    def read(self, member_ids: Sequence[str]) -> dict[str, Holding]:
        with self._lock:
            self.reads += 1
            return {m: Holding(copy.deepcopy(self.accounts.get(m)), self.members.get(m, MemberFacts(found=False)))
                    for m in member_ids}

    def commit(self, accounts: Sequence[LoyaltyAccount], tiers: Sequence[TierMark] = ()) -> None:
        with self._lock:
            if self.fail_next_commits:
                self.fail_next_commits -= 1
                raise Conflict("injected")
            for account in accounts:
                stored = self.accounts.get(account.member_id)
                if account.version != (stored.version if stored else 0):
                    raise Conflict("version")
            for mark in tiers:
                if mark.member_id not in self.members:
                    raise Conflict("no member item")
            self.commits += 1
            for account in accounts:
                kept = copy.deepcopy(account)
                kept.version += 1
                self.accounts[account.member_id] = kept
            for mark in tiers:
                old = self.members[mark.member_id]
                self.members[mark.member_id] = MemberFacts(True, old.status, old.merged_into, mark.tier_id,
                                                           mark.since if mark.tier_id else None)

    def tier_members(self, tier_id: str) -> list[str]:
        return sorted(m for m, facts in self.members.items() if facts.tier == tier_id)

    def merge_members(self, survivor: str, absorbed: str) -> None:
        """What the resolver does to the member items of a merge."""
        old = self.members[absorbed]
        self.members[absorbed] = MemberFacts(True, "merged", survivor, old.tier, old.tier_since)
