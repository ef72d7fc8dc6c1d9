"""Bindings, LINE status, consent switches and one-time codes on the members table.

Every change to a member item adds 1 to its ``version`` and is conditioned on the version
read, so the ingest resolver and this function never overwrite each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from omo2c.core.dynamo import MemberItem, _MembersTable, configure
from omo2c.core.errors import Conflict
from omo2c.core.settings import Settings, get_settings
from omo2c.identity.verification import PendingCode
from omo2c.members.model import Member
from omo2c.members.storage import DynamoMemberStore, member_from_item, member_key


class BindingHistoryItem(_MembersTable):
    """pk=MEMBER#<id>, sk=BINDING#<iso time>: one binding change, kept forever."""

    staff_id = UnicodeAttribute(null=True)
    store_id = UnicodeAttribute(null=True)
    previous_staff_id = UnicodeAttribute(null=True)
    via = UnicodeAttribute()
    policy_version = UnicodeAttribute()
    at = UnicodeAttribute()


class OneTimeCodeItem(_MembersTable):
    """pk=OTP#<LINE user id>, sk=PENDING: the code being proved (hashed), gone after ten minutes."""

    phone = UnicodeAttribute()
    code_hash = UnicodeAttribute()
    expires_at = NumberAttribute()
    tries = NumberAttribute(default=0)


class CodeRateItem(_MembersTable):
    """pk=OTPRATE#<line|phone>#<value>, sk=<hour>: codes sent in that hour."""

    count = NumberAttribute(default=0)
    expires_at = NumberAttribute()


BIND_MODELS = (BindingHistoryItem, OneTimeCodeItem, CodeRateItem)


@dataclass(frozen=True)
class BoundCustomer:
    member_id: str
    name: str | None
    bound_at: str
    via: str | None
    line_followed: bool


class MemberContacts:
    def __init__(self, settings: Settings | None = None, members: DynamoMemberStore | None = None) -> None:
        self.settings = settings or get_settings()
        configure(self.settings, BIND_MODELS)
        self.members = members or DynamoMemberStore(self.settings)

    def member(self, member_id: str) -> Member | None:
        return self.members.get_member(member_id)

    def _update(self, member: Member, actions: list[Any]) -> None:
        try:
            MemberItem(*member_key(member.member_id)).update(
                actions=[*actions, MemberItem.version.add(1)],
                condition=(MemberItem.version == member.version) & (MemberItem.status == "live"))
        except UpdateError as exc:
            raise Conflict("the member changed concurrently") from exc

    def bind(self, member: Member, staff_id: str | None, store_id: str | None, via: str, policy_version: str,
             now: datetime) -> dict[str, Any]:
        binding = {"staff_id": staff_id, "store_id": store_id, "bound_at": now.isoformat(), "via": via,
                   "policy_version": policy_version, "last_interaction_at": now.isoformat()}
        actions: list[Any] = [MemberItem.binding.set(binding), MemberItem.bound_at.set(now.isoformat())]
        actions.append(MemberItem.bound_staff_id.set(staff_id) if staff_id else MemberItem.bound_staff_id.remove())
        actions.append(MemberItem.bound_store_id.set(store_id) if store_id else MemberItem.bound_store_id.remove())
        history = BindingHistoryItem(
            f"MEMBER#{member.member_id}", f"BINDING#{now.isoformat()}#{staff_id or store_id}", staff_id=staff_id,
            store_id=store_id, previous_staff_id=(member.binding or {}).get("staff_id"), via=via,
            policy_version=policy_version, at=now.isoformat())
        try:
            with TransactWrite(connection=MemberItem._get_connection().connection) as tx:
                tx.update(MemberItem(*member_key(member.member_id)), actions=[*actions, MemberItem.version.add(1)],
                          condition=(MemberItem.version == member.version) & (MemberItem.status == "live"))
                tx.save(history, condition=BindingHistoryItem.pk.does_not_exist())
        except TransactWriteError as exc:
            raise Conflict("the member changed concurrently") from exc
        return binding

    def touch(self, member: Member, now: datetime) -> None:
        """Any message from a bound customer keeps the binding from expiring."""
        if member.binding:
            self._update(member, [MemberItem.binding["last_interaction_at"].set(now.isoformat())])

    def set_line(self, member: Member, user_id: str, followed: bool, now: datetime) -> None:
        self._update(member, [MemberItem.line.set({"user_id": user_id, "followed": followed, "reachable": followed,
                                                   "updated_at": now.isoformat()})])

    def set_opt_out(self, member: Member, opted_out: bool) -> None:
        self._update(member, [MemberItem.opted_out.set(opted_out)])

    def history(self, member_id: str) -> list[dict[str, Any]]:
        items = BindingHistoryItem.query(f"MEMBER#{member_id}", BindingHistoryItem.sk.startswith("BINDING#"))
        return [{"staff_id": i.staff_id, "store_id": i.store_id, "previous_staff_id": i.previous_staff_id,
                 "via": i.via, "policy_version": i.policy_version, "at": i.at} for i in items]

    def bound_to(self, staff_id: str) -> list[Member]:
        """The members bound to a staff member, through the ByBoundStaff index (never a scan)."""
        return [m for m in (member_from_item(i) for i in self._query_bound(staff_id)) if m.live]

    def customers_of(self, staff_id: str) -> list[BoundCustomer]:
        out = []
        for member in self.bound_to(staff_id):
            out.append(BoundCustomer(member.member_id, member.profile_value("name"),
                                     str(member.binding.get("bound_at")), member.binding.get("via"),
                                     bool(member.line.get("followed"))))
        return out

    def _query_bound(self, staff_id: str) -> list[MemberItem]:
        return list(MemberItem.by_bound_staff.query(staff_id))

    # ------------------------------------------------------------------ one-time codes
    def take_code_quota(self, kind: str, value: str, hour: str, limit: int, expires_at: int) -> bool:
        try:
            CodeRateItem(f"OTPRATE#{kind}#{value}", hour).update(
                actions=[CodeRateItem.count.add(1), CodeRateItem.expires_at.set(expires_at)],
                condition=CodeRateItem.count.does_not_exist() | (CodeRateItem.count < limit))
        except UpdateError:
            return False
        return True

    def put_code(self, pending: PendingCode) -> None:
        OneTimeCodeItem(f"OTP#{pending.line_user_id}", "PENDING", phone=pending.phone, code_hash=pending.code_hash,
                        expires_at=pending.expires_at, tries=0).save()

    def pending_code(self, line_user_id: str) -> PendingCode | None:
        try:
            item = OneTimeCodeItem.get(f"OTP#{line_user_id}", "PENDING", consistent_read=True)
        except OneTimeCodeItem.DoesNotExist:
            return None
        return PendingCode(line_user_id, item.phone, item.code_hash, int(item.expires_at), int(item.tries))

    def count_failed_try(self, pending: PendingCode) -> None:
        try:
            OneTimeCodeItem(f"OTP#{pending.line_user_id}", "PENDING").update(
                actions=[OneTimeCodeItem.tries.add(1)], condition=OneTimeCodeItem.tries == pending.tries)
        except UpdateError as exc:
            raise Conflict("a concurrent try") from exc

    def drop_code(self, line_user_id: str) -> None:
        OneTimeCodeItem(f"OTP#{line_user_id}", "PENDING").delete()
