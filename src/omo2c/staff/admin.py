"""The staff and store admin API: people, their QR codes, their customers, their leaving."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from urllib.parse import quote

from omo2c.access.model import ADMIN, NOT_YOURS, Principal, Role, require_staff_member, require_store
from omo2c.binding.model import Binding, BindingPolicy, prefilled_message
from omo2c.core.errors import Conflict, Forbidden, InvalidEvent, NotFound
from omo2c.events import BusEvent, MemberBound, MemberUnbound
from omo2c.members.model import Member
from omo2c.staff.api_models import LeaveIn, StaffIn, StoreIn
from omo2c.staff.model import LINK_CODE_LENGTH, Staff, Store, link_message, new_code


class StaffStore(Protocol):
    def staff(self, staff_id: str) -> Staff | None: ...

    def store(self, store_id: str) -> Store | None: ...

    def put_staff(self, staff_id: str, name: str, store_id: str | None, status: str,
                  role: str = "staff") -> tuple[Staff, bool]: ...

    def put_store(self, store_id: str, name: str, phone: str | None) -> Store: ...

    def rotate_code(self, staff: Staff) -> str: ...

    def mark_left(self, staff: Staff, transfer_to_staff_id: str | None,
                  transfer_to_store_id: str | None) -> Staff: ...

    def put_link_code(self, staff_id: str, code: str, expires_at: int) -> None: ...

    def unlink_line(self, staff: Staff) -> None: ...


class MemberBindings(Protocol):
    def get_member(self, member_id: str) -> Member | None: ...

    def bound_to(self, staff_id: str) -> list[Member]: ...

    def bind(self, member: Member, binding: Binding | None) -> None: ...


def _staff_view(staff: Staff) -> dict[str, Any]:
    return {"staff_id": staff.staff_id, "name": staff.name, "store_id": staff.store_id, "status": staff.status,
            "transfer_to_staff_id": staff.transfer_to_staff_id, "transfer_to_store_id": staff.transfer_to_store_id,
            "role": staff.role, "line_linked": staff.line_user_id is not None}


class StaffAdmin:
    def __init__(self, directory: StaffStore, bindings: MemberBindings, basic_id: str,
                 publish: Callable[[list[BusEvent]], None], policy: BindingPolicy,
                 clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC), link_code_hours: int = 24) -> None:
        self.directory, self.bindings, self.basic_id = directory, bindings, basic_id
        self.publish, self.policy, self.clock = publish, policy, clock
        self.link_code_hours = link_code_hours

    def _staff(self, staff_id: str, caller: Principal = ADMIN) -> Staff:
        """The staff record if the caller may see it; one that is out of scope looks like one that is not there."""
        staff = self.directory.staff(staff_id)
        if staff is None:
            if not caller.is_admin:
                raise Forbidden(NOT_YOURS)
            raise NotFound("no such staff member")
        require_staff_member(caller, staff.staff_id, staff.store_id)
        return staff

    def put_staff(self, staff_id: str, data: StaffIn, caller: Principal = ADMIN) -> tuple[dict[str, Any], bool]:
        """A manager keeps staff of their own store, and only the admin makes managers."""
        if not caller.is_admin:
            require_store(caller, data.store_id)
            if data.role != Role.STAFF.value:
                raise Forbidden("only the admin makes managers")
            existing = self.directory.staff(staff_id)
            if existing is not None:
                require_store(caller, existing.store_id)
                if existing.role != Role.STAFF.value:
                    raise Forbidden("only the admin changes a manager")
        if data.store_id and self.directory.store(data.store_id) is None:
            raise InvalidEvent("store_id names no store", [{"field": "store_id", "problem": "unknown store"}])
        staff, created = self.directory.put_staff(staff_id, data.name, data.store_id, data.status, data.role)
        return _staff_view(staff), created

    def link_code(self, staff_id: str, caller: Principal = ADMIN) -> dict[str, str]:
        """A one-time code the staff member sends the Official Account from their own LINE, to sign in with it."""
        staff = self._staff(staff_id, caller)
        if not staff.active:
            raise InvalidEvent("a staff member who left cannot link a LINE account")
        code = new_code(LINK_CODE_LENGTH)
        expires = self.clock() + timedelta(hours=self.link_code_hours)
        self.directory.put_link_code(staff.staff_id, code, int(expires.timestamp()))
        message = link_message(staff.name, code)
        return {"code": code, "message": message, "expires_at": expires.isoformat(),
                "url": f"https://line.me/R/oaMessage/{quote(self.basic_id)}/?{quote(message)}"}

    def unlink_line(self, staff_id: str, caller: Principal = ADMIN) -> dict[str, Any]:
        staff = self._staff(staff_id, caller)
        self.directory.unlink_line(staff)
        return _staff_view(self._staff(staff_id, caller))

    def put_store(self, store_id: str, data: StoreIn) -> dict[str, Any]:
        store = self.directory.put_store(store_id, data.name, data.phone)
        return {"store_id": store.store_id, "name": store.name, "phone_registered": store.phone is not None}

    def link(self, staff_id: str, caller: Principal = ADMIN) -> dict[str, str]:
        staff = self._staff(staff_id, caller)
        if not staff.active or not staff.code:
            raise NotFound("this staff member has no active code")
        message = prefilled_message(staff.name, staff.code)
        url = f"https://line.me/R/oaMessage/{quote(self.basic_id)}/?{quote(message)}"
        return {"url": url, "message": message}

    def qr_png(self, staff_id: str, caller: Principal = ADMIN) -> bytes:
        import segno

        buffer = io.BytesIO()
        segno.make(self.link(staff_id, caller)["url"], error="m").save(buffer, kind="png", scale=8, border=3)
        return buffer.getvalue()

    def rotate(self, staff_id: str, caller: Principal = ADMIN) -> dict[str, str]:
        staff = self._staff(staff_id, caller)
        self.directory.rotate_code(staff)
        return self.link(staff_id, caller)

    def customers(self, staff_id: str, caller: Principal = ADMIN) -> dict[str, Any]:
        self._staff(staff_id, caller)
        now = self.clock()
        customers = [{"member_id": m.member_id, "name": m.profile_value("name"),
                      "bound_at": m.binding.bound_at.isoformat(), "via": m.binding.via,
                      "active": m.binding.is_active(now, self.policy),
                      "line_followed": bool(m.line and m.line.followed)}
                     for m in self.bindings.bound_to(staff_id) if m.binding is not None]
        return {"staff_id": staff_id, "customers": customers}

    def leave(self, staff_id: str, data: LeaveIn, caller: Principal = ADMIN) -> dict[str, Any]:
        """The staff member leaves; every active binding moves to the transfer target, with history."""
        staff = self._staff(staff_id, caller)
        target = self._staff(data.transfer_to_staff_id, caller) if data.transfer_to_staff_id else None
        if target is None and data.transfer_to_store_id:
            require_store(caller, data.transfer_to_store_id)
        if target is not None and (not target.active or target.staff_id == staff_id):
            raise InvalidEvent("the transfer target must be another active staff member")
        store_id = target.store_id if target else data.transfer_to_store_id
        if target is None and store_id and self.directory.store(store_id) is None:
            raise InvalidEvent("transfer_to_store_id names no store")
        self.directory.mark_left(staff, data.transfer_to_staff_id, data.transfer_to_store_id)
        moved = 0
        for member in self.bindings.bound_to(staff_id):
            moved += self._transfer(member.member_id, staff_id, target, store_id)
        return {"staff": _staff_view(self._staff(staff_id)), "moved_bindings": moved}

    def _transfer(self, member_id: str, from_staff: str, target: Staff | None, store_id: str | None) -> int:
        for _ in range(5):
            member = self.bindings.get_member(member_id)
            if member is None or member.binding is None or member.binding.staff_id != from_staff:
                return 0
            now = self.clock()
            binding = Binding(target.staff_id if target else None, store_id, now, "transfer", self.policy.version, now)
            try:
                self.bindings.bind(member, binding)
            except Conflict:
                continue
            self.publish([
                MemberUnbound(member_id=member_id, staff_id=from_staff, store_id=member.binding.store_id,
                              via="transfer", at=now),
                MemberBound(member_id=member_id, staff_id=binding.staff_id, staff_name=target.name if target else None,
                            store_id=store_id, line_user_id=member.line_user_id, via="transfer", bound_at=now,
                            policy_version=self.policy.version),
            ])
            return 1
        raise Conflict(f"member {member_id} kept changing")
