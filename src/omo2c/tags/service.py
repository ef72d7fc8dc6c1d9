"""Tags by hand: the admin on any member, a staff member on customers actively bound to them, a manager on
the customers of their store. Out of scope is 403 before anything is told (an unknown member too); the
admin gets 404 for a member that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from omo2c.access.model import ADMIN, NOT_YOURS, Principal, may_serve
from omo2c.binding.model import BindingPolicy
from omo2c.core.errors import Forbidden, NotFound
from omo2c.members.model import Member, home_store
from omo2c.tags.model import TagRecord, earliest_per_tag, parse_tag, source_of


class TagRecords(Protocol):
    def tags(self, member_id: str, absorbed: Sequence[str] = ()) -> list[TagRecord]: ...
    def put(self, member_id: str, tag: str, source: str, at: int) -> TagRecord: ...
    def delete(self, member_id: str, tag: str, holders: Sequence[str] = ()) -> None: ...


class Members(Protocol):
    def get_member(self, member_id: str) -> Member | None: ...


class MemberTags:
    def __init__(self, store: TagRecords, members: Members,
                 clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC),
                 binding_policy: BindingPolicy | None = None) -> None:
        """Without ``binding_policy`` the store's settings give it (expiry decides whose customer a member is)."""
        self.store, self.members, self.clock = store, members, clock
        settings = getattr(store, "settings", None)
        self.binding_policy = binding_policy or (BindingPolicy(
            settings.binding_cooldown_days, settings.binding_expiry_days, settings.binding_policy_version)
            if settings is not None else BindingPolicy())

    def put(self, member_id: str, tag: str, source: str | None, caller: Principal) -> dict[str, object]:
        """Give the member the tag (idempotent: a tag it has keeps where and when it first came from). ``source``
        is the admin's to name; anyone else's tag is ``staff:<their id>``."""
        tag = parse_tag(tag)
        member = self._member(member_id, caller)
        known = {r.tag: r for r in earliest_per_tag(self.store.tags(member.member_id, member.absorbed))}
        if tag in member.tags and tag in known:
            return known[tag].view(member.member_id)
        given = source if source and caller.is_admin else source_of(caller)
        record = self.store.put(member.member_id, tag, given, int(self.clock().timestamp() * 1000))
        return record.view(member.member_id)

    def delete(self, member_id: str, tag: str, caller: Principal) -> dict[str, object]:
        """Take the tag off the member, with its provenance and audience entries (also those it came with
        from a member it absorbed)."""
        tag = parse_tag(tag)
        member = self._member(member_id, caller)
        holders = [r.holder for r in self.store.tags(member.member_id, member.absorbed) if r.tag == tag]
        removed = tag in member.tags or bool(holders)
        if removed:
            self.store.delete(member.member_id, tag, holders)
        return {"member_id": member.member_id, "tag": tag, "removed": removed}

    def list(self, member_id: str, caller: Principal = ADMIN) -> list[dict[str, object]]:
        """Every tag of the member with where and when it first came from (None for tags from before)."""
        member = self._member(member_id, caller)
        known = {r.tag: r for r in earliest_per_tag(self.store.tags(member.member_id, member.absorbed))}
        return [(known.get(t) or TagRecord(member.member_id, t, None, None)).view(member.member_id)
                for t in sorted(set(member.tags))]

    def _member(self, member_id: str, caller: Principal) -> Member:
        member = self.members.get_member(member_id)
        if caller.is_admin:
            if member is None or not member.live:
                raise NotFound("no such member")
            return member
        if member is None or not member.live:
            raise Forbidden(NOT_YOURS)
        binding = member.binding
        active = binding if binding is not None and binding.is_active(self.clock(), self.binding_policy) else None
        if not may_serve(caller, active.staff_id if active else None, home_store(member, active)):
            raise Forbidden(NOT_YOURS)
        return member
