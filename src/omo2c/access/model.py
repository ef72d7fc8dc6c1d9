"""Who is calling and what they may see: the admin, a store manager, a staff member, or an API key.

The authorizer decides who the caller is once per request and hands the handlers a flat
context (API Gateway passes only strings); every handler turns it back into a
:class:`Principal` and asks the rules here. Out of scope is 403 with a message that says
nothing about what is there, so a staff member cannot probe for other staff's customers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from omo2c.core.errors import Forbidden, Unauthenticated

NOT_YOURS = "this is not yours to see"


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    STAFF = "staff"




@dataclass(frozen=True)
class Principal:
    role: Role
    staff_id: str | None = None
    store_id: str | None = None
    key_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_staff(self) -> bool:
        """A signed-in staff member (or manager) with a staff record: the one who may use ``/me``."""
        return self.role in (Role.STAFF, Role.MANAGER) and self.staff_id is not None

    @property
    def label(self) -> str:
        """For logs: never a token, only which kind of caller and which record."""
        return f"{self.role.value}:{self.staff_id or self.key_id or '-'}"

    def context(self) -> dict[str, str]:
        """The authorizer's answer: strings only, empty strings for none."""
        return {"role": self.role.value, "staff_id": self.staff_id or "", "store_id": self.store_id or "",
                "key_id": self.key_id or ""}

    @classmethod
    def from_context(cls, context: Mapping[str, Any] | None) -> Principal:
        """The authorizer's context as the handler receives it; anything else is no caller at all."""
        context = context or {}
        try:
            role = Role(str(context.get("role") or ""))
        except ValueError as exc:
            raise Unauthenticated("no signed-in caller") from exc
        return cls(role, str(context.get("staff_id") or "") or None, str(context.get("store_id") or "") or None,
                   str(context.get("key_id") or "") or None)


ADMIN = Principal(Role.ADMIN)


def caller(event: Mapping[str, Any]) -> Principal:
    """The principal of an HTTP API (payload 2.0) event behind the Lambda authorizer."""
    authorizer = ((event.get("requestContext") or {}).get("authorizer") or {})
    return Principal.from_context(authorizer.get("lambda"))


def require(principal: Principal, *roles: Role) -> Principal:
    if principal.role not in roles:
        raise Forbidden(NOT_YOURS)
    return principal


def require_staff(principal: Principal) -> Principal:
    if not principal.is_staff:
        raise Forbidden("only a signed-in staff member has a workspace")
    return principal


def require_store(principal: Principal, store_id: str | None) -> None:
    """Admins see every store; a manager (or a manager's API key) only their own."""
    if principal.is_admin:
        return
    if principal.role is Role.MANAGER and principal.store_id and principal.store_id == store_id:
        return
    raise Forbidden(NOT_YOURS)


def require_staff_member(principal: Principal, staff_id: str, staff_store_id: str | None) -> None:
    """A staff record: the admin, the store's manager, or the staff member themselves."""
    if principal.is_admin or (principal.staff_id is not None and principal.staff_id == staff_id):
        return
    require_store(principal, staff_store_id)


def may_serve(principal: Principal, bound_staff_id: str | None, member_store_id: str | None) -> bool:
    """A customer is a staff member's own when bound to them; a manager's when of their store."""
    if principal.is_admin:
        return True
    if principal.staff_id is not None and bound_staff_id == principal.staff_id:
        return True
    return principal.role is Role.MANAGER and principal.store_id is not None and member_store_id == principal.store_id
