"""Admin reads and the one admin write on members (undoing a merge)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from omo2c.core.errors import InvalidEvent, NotFound
from omo2c.core.settings import Settings
from omo2c.identity.identifiers import Identifier, IdentifierKind, InvalidIdentifier, normalize
from omo2c.members.model import Member, member_view
from omo2c.members.resolution import MergeRecord


class MemberReader(Protocol):
    def get_member(self, member_id: str) -> Member | None: ...

    def find_by_identifier(self, identifier: Identifier) -> Member | None: ...

    def merge_history(self, member_id: str) -> list[MergeRecord]: ...

    def unmerge(self, survivor_id: str, merge_id: str | None, at: int) -> tuple[MergeRecord, Member] | None: ...


def _merge_summary(record: MergeRecord) -> dict[str, Any]:
    return {
        "merge_id": record.merge_id, "absorbed_member_id": record.absorbed_id,
        "at": datetime.fromtimestamp(record.at / 1000, tz=UTC).isoformat(), "event_id": record.event_id,
        "reason": record.reason, "status": record.status,
        "moved_identities": [i.kind.value for i in record.moved_identifiers],
    }


def _details(store: MemberReader, member: Member, settings: Settings) -> dict[str, Any]:
    merges = [_merge_summary(m) for m in store.merge_history(member.member_id)]
    return member_view(member, merges, datetime.now(tz=UTC), settings.napl_window_days)


def member_details(store: MemberReader, member_id: str, settings: Settings) -> dict[str, Any]:
    if not member_id or len(member_id) > 64:
        raise NotFound("no such member")
    member = store.get_member(member_id)
    if member is None:
        raise NotFound("no such member")
    return _details(store, member, settings)


def find_member_by(store: MemberReader, kind: str, value: str, settings: Settings) -> dict[str, Any]:
    """Lookups normalize the query like the identifier, so any common format finds the member."""
    try:
        identifier = Identifier(IdentifierKind(kind), normalize(IdentifierKind(kind), value,
                                                                settings.default_region))
    except InvalidIdentifier as exc:
        raise InvalidEvent(f"{kind} is not a valid {kind.replace('_', ' ')}") from exc
    member = store.find_by_identifier(identifier)
    if member is None:
        raise NotFound("no member has that identifier")
    return _details(store, member, settings)


def unmerge(store: MemberReader, member_id: str, merge_id: str | None, settings: Settings) -> dict[str, Any] | None:
    at = int(datetime.now(tz=UTC).timestamp() * 1000)
    result = store.unmerge(member_id, merge_id, at)
    if result is None:
        return None
    record, restored = result
    return {"unmerged": _merge_summary(record), "restored_member_id": restored.member_id}
