"""The members admin API: find a member by any identifier, read one, undo a merge."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from omo2c.binding.model import BindingPolicy
from omo2c.core.errors import InvalidEvent, NotFound
from omo2c.events import BusEvent, MemberUnmerged
from omo2c.identity.identifiers import Identifier, IdentifierKind, InvalidIdentifier, normalize
from omo2c.members.model import Member, member_view
from omo2c.members.resolution import MergeRecord, merge_to_undo, unmerge_plan

LOOKUP_KINDS = ("phone", "email", "line_user_id", "pos_member_no")


class MemberRecords(Protocol):
    def get_member(self, member_id: str) -> Member | None: ...

    def member_as_stored(self, member_id: str) -> Member | None: ...

    def find_by_identifier(self, identifier: Identifier) -> Member | None: ...

    def merge_history(self, member_id: str) -> list[MergeRecord]: ...

    def binding_history(self, member_id: str) -> list[dict[str, Any]]: ...

    def commit_unmerge(self, record: MergeRecord, survivor: Member, absorbed: Member, remaining: Member,
                       restored: Member) -> None: ...


def merge_summary(record: MergeRecord) -> dict[str, Any]:
    return {
        "merge_id": record.merge_id, "absorbed_member_id": record.absorbed_id,
        "at": datetime.fromtimestamp(record.at / 1000, tz=UTC).isoformat(), "event_id": record.event_id,
        "reason": record.reason, "status": record.status,
        "moved_identities": [i.kind.value for i in record.moved_identifiers],
    }


@dataclass
class MembersAdmin:
    store: MemberRecords
    publish: Callable[[list[BusEvent]], None]
    binding_policy: BindingPolicy = field(default_factory=BindingPolicy)
    napl_window_days: int = 90
    region: str = "TW"
    clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC)
    loyalty: Callable[[str], dict[str, Any] | None] | None = None

    def _details(self, member: Member) -> dict[str, Any]:
        now = self.clock()
        merges = [merge_summary(m) for m in self.store.merge_history(member.member_id)]
        active = member.binding is not None and member.binding.is_active(now, self.binding_policy)
        view = member_view(member, merges, now, self.napl_window_days, active)
        view["binding_history"] = self.store.binding_history(member.member_id)
        if self.loyalty is not None:
            summary = self.loyalty(member.member_id) or {}
            view["tier"], view["points"] = summary.get("tier"), summary.get("points")
        return view

    def details(self, member_id: str) -> dict[str, Any]:
        member = self.store.get_member(member_id) if 0 < len(member_id) <= 64 else None
        if member is None:
            raise NotFound("no such member")
        return self._details(member)

    def find(self, query: dict[str, str | None]) -> dict[str, Any]:
        """Exactly one identifier; it is normalized like on write, so any common format finds the member."""
        given = {k: v for k, v in query.items() if k in LOOKUP_KINDS and v}
        if len(given) != 1:
            raise InvalidEvent(f"give exactly one of {', '.join(LOOKUP_KINDS)}")
        ((kind, value),) = given.items()
        try:
            identifier = Identifier(IdentifierKind(kind), normalize(IdentifierKind(kind), value, self.region))
        except InvalidIdentifier as exc:
            raise InvalidEvent(f"{kind} is not a valid {kind.replace('_', ' ')}",
                               [{"field": kind, "problem": "not a valid identifier"}]) from exc
        member = self.store.find_by_identifier(identifier)
        if member is None:
            raise NotFound("no member has that identifier")
        return self._details(member)

    def unmerge(self, member_id: str, merge_id: str | None) -> dict[str, Any]:
        """Undo one recorded merge (the latest one when no id is given)."""
        survivor = self.store.get_member(member_id) if 0 < len(member_id) <= 64 else None
        record = merge_to_undo(self.store.merge_history(survivor.member_id), merge_id) if survivor else None
        absorbed = self.store.member_as_stored(record.absorbed_id) if record else None
        if survivor is None or record is None or absorbed is None:
            raise NotFound("no recorded merge to undo for this member")
        at = int(self.clock().timestamp() * 1000)
        remaining, restored = unmerge_plan(record, survivor, absorbed, at)
        self.store.commit_unmerge(record, survivor, absorbed, remaining, restored)
        record.status = "unmerged"
        self.publish([MemberUnmerged(survivor_id=survivor.member_id, restored_member_id=restored.member_id,
                                     merge_id=record.merge_id)])
        return {"unmerged": merge_summary(record), "restored_member_id": restored.member_id}
