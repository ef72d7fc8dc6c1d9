"""An in-memory member store with the same conditions as the DynamoDB one, for fast unit tests."""

from __future__ import annotations

import copy
from dataclasses import replace

from omo2c.core.errors import Conflict
from omo2c.identity.identifiers import Identifier
from omo2c.members.model import Member, earliest
from omo2c.members.resolution import IdentityRecord, MergeRecord, Snapshot, WritePlan
from omo2c.orders.model import OrderRecord


class MemoryMemberStore:
    def __init__(self) -> None:
        self.identities: dict[Identifier, IdentityRecord] = {}
        self.members_by_id: dict[str, Member] = {}
        self.orders: dict[tuple[str, str], OrderRecord] = {}
        self.events: dict[str, list] = {}
        self.merges: dict[str, MergeRecord] = {}
        self.commits = 0

    def snapshot(self, identifiers, order_key, event_key) -> Snapshot:
        if event_key in self.events:
            return Snapshot({}, None, duplicate_events=self.events[event_key])
        found = {i: self.identities[i] for i in identifiers if i in self.identities}
        order = copy.deepcopy(self.orders.get(order_key)) if order_key else None
        return Snapshot(found, order)

    def members(self, member_ids: set[str]) -> dict[str, Member]:
        out: dict[str, Member] = {}
        wanted = set(member_ids)
        while wanted:
            member_id = wanted.pop()
            member = self.members_by_id.get(member_id)
            if member is None:
                continue
            out[member_id] = copy.deepcopy(member)
            if member.merged_into and member.merged_into not in out:
                wanted.add(member.merged_into)
        return out

    def get_member(self, member_id: str) -> Member | None:
        member = self.members_by_id.get(member_id)
        while member is not None and not member.live and member.merged_into:
            member = self.members_by_id.get(member.merged_into)
        return copy.deepcopy(member) if member else None

    def commit(self, plan: WritePlan) -> None:
        if plan.event_key in self.events:
            raise Conflict("event")
        for identifier, _ in plan.new_identities:
            if identifier in self.identities:
                raise Conflict("identity")
        for identifier, old, _ in plan.repointed:
            if self.identities[identifier].member_id != old:
                raise Conflict("repoint")
        if plan.order is not None:
            current = self.orders.get((plan.order.source, plan.order.order_id))
            if (current.version if current else 0) != plan.order_expected_version:
                raise Conflict("order")
        for change in plan.members:
            stored = self.members_by_id.get(change.member.member_id)
            if change.fast:
                if stored is None or not stored.live or stored.last_event_at > change.member.last_event_at:
                    raise Conflict("fast")
                if change.placed_at is not None and stored.rfm.last_order_at is not None \
                        and stored.rfm.last_order_at > change.placed_at:
                    raise Conflict("fast-order")
                first = change.member.first_pos_order
                if first is not None and stored.first_pos_order is not None and stored.first_pos_order > first:
                    raise Conflict("fast-first-pos")
            elif change.expected_version is None:
                if stored is not None:
                    raise Conflict("exists")
            elif stored is None or stored.version != change.expected_version or not stored.live:
                raise Conflict("version")
        for absorbed in plan.absorbed:
            stored = self.members_by_id[absorbed.member_id]
            if stored.version != absorbed.version or not stored.live:
                raise Conflict("absorbed")
        self._apply(plan)

    def _apply(self, plan: WritePlan) -> None:
        self.commits += 1
        self.events[plan.event_key] = plan.publish
        for change in plan.members:
            member = change.member
            if change.fast:
                stored = self.members_by_id[member.member_id]
                stored.rfm = stored.rfm.with_order(change.placed_at, change.count_delta, change.net_delta)
                stored.profile.update(member.profile)
                stored.consent.update(member.consent)
                stored.identifiers = [*stored.identifiers, *member.identifiers]
                stored.tags = sorted({*stored.tags, *member.tags})
                stored.first_pos_order = earliest(stored.first_pos_order, member.first_pos_order)
                stored.last_event_at = member.last_event_at
                stored.version += 1
            else:
                stored = self.members_by_id.get(member.member_id)
                self.members_by_id[member.member_id] = replace(
                    copy.deepcopy(member), version=(stored.version if stored else 0) + 1,
                    created_at=stored.created_at if stored else member.created_at)
        survivor = plan.members[0].member.member_id if plan.members else None
        for absorbed in plan.absorbed:
            stored = self.members_by_id[absorbed.member_id]
            stored.status, stored.merged_into, stored.version = "merged", survivor, stored.version + 1
        for identifier, member_id in plan.new_identities:
            self.identities[identifier] = IdentityRecord(identifier, member_id)
        for identifier, _, new in plan.repointed:
            self.identities[identifier] = replace(self.identities[identifier], member_id=new)
        for record in plan.identity_updates:
            current = self.identities[record.identifier]
            self.identities[record.identifier] = replace(current, flagged=record.flagged,
                                                         seen_members=record.seen_members)
        for merge in plan.merges:
            self.merges[merge.merge_id] = merge
        if plan.order is not None:
            order = copy.deepcopy(plan.order)
            order.version = plan.order_expected_version + 1
            self.orders[(order.source, order.order_id)] = order

    def member_as_stored(self, member_id: str) -> Member | None:
        member = self.members_by_id.get(member_id)
        return copy.deepcopy(member) if member else None

    def touch(self, member: Member, at) -> None:
        """Like the DynamoDB store: conditioned on the member's version."""
        stored = self.members_by_id.get(member.member_id)
        if stored is None or stored.version != member.version or not stored.live:
            raise Conflict("version")
        if stored.binding is not None:
            stored.binding = stored.binding.touched(at)
            stored.version += 1

    def merge_history(self, member_id: str) -> list[MergeRecord]:
        return [copy.deepcopy(m) for m in self.merges.values() if m.survivor_id == member_id]

    def binding_history(self, member_id: str) -> list[dict]:
        return []

    def commit_unmerge(self, record, survivor, absorbed, remaining, restored) -> None:
        if self.members_by_id[survivor.member_id].version != survivor.version \
                or self.members_by_id[absorbed.member_id].version != absorbed.version \
                or self.merges[record.merge_id].status != "merged":
            raise Conflict("unmerge")
        self.members_by_id[remaining.member_id] = replace(remaining, version=survivor.version + 1)
        self.members_by_id[restored.member_id] = replace(restored, version=absorbed.version + 1)
        for identifier in record.moved_identifiers:
            self.identities[identifier] = replace(self.identities[identifier], member_id=restored.member_id)
        self.merges[record.merge_id].status = "unmerged"
