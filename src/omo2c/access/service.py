"""Who a bearer token is: the admin token, an API key, or a LINE Login ID token of a linked staff member;
and the admin's API keys."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from omo2c.access.keys import PREFIX, ApiKey, matches, new_key, parse_key
from omo2c.access.model import Principal, Role
from omo2c.core.errors import Forbidden, InvalidEvent, NotFound, Unauthenticated

MAX_TOKEN_LENGTH = 4096


class Keys(Protocol):
    def put(self, key: ApiKey) -> None: ...

    def get(self, key_id: str) -> ApiKey | None: ...

    def all(self) -> list[ApiKey]: ...

    def revoke(self, key_id: str) -> ApiKey | None: ...


class Verifier(Protocol):
    def verify(self, token: str) -> Any: ...


class StaffRecord(Protocol):
    """What sign-in needs of a staff record (the staff area's ``Staff``)."""

    staff_id: str
    store_id: str | None
    role: str

    @property
    def active(self) -> bool: ...


class Authenticator:
    """Each kind of token is told apart by its shape before anything is read, so a junk token costs nothing."""

    def __init__(self, admin_token: Callable[[], str], keys: Keys, verifier: Callable[[], Verifier],
                 staff_by_line: Callable[[str], StaffRecord | None]) -> None:
        self.admin_token, self.keys, self.verifier, self.staff_by_line = admin_token, keys, verifier, staff_by_line

    def authenticate(self, header: str | None) -> Principal:
        scheme, _, token = (header or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
            raise Unauthenticated("a bearer token is required")
        if token.startswith(PREFIX):
            return self._api_key(token)
        if token.count(".") == 2:
            return self._staff(token)
        if hmac.compare_digest(token.encode(), self.admin_token().encode()):
            return Principal(Role.ADMIN)
        raise Unauthenticated("unknown token")

    def _api_key(self, token: str) -> Principal:
        parsed = parse_key(token)
        key = self.keys.get(parsed[0]) if parsed else None
        if key is None or parsed is None or not matches(key, parsed[1]):
            raise Unauthenticated("unknown or revoked API key")
        return Principal(Role(key.role), None, key.store_id, key.key_id)

    def _staff(self, token: str) -> Principal:
        login = self.verifier().verify(token)
        staff = self.staff_by_line(login.sub)
        if staff is None or not staff.active:
            raise Forbidden("this LINE account is not linked to an active staff member")
        role = Role.MANAGER if staff.role == Role.MANAGER.value else Role.STAFF
        return Principal(role, staff.staff_id, staff.store_id)


class StoreLookup(Protocol):
    def store(self, store_id: str) -> object | None: ...


class ApiKeysAdmin:
    def __init__(self, keys: Keys, stores: StoreLookup, clock: Callable[[], datetime] = lambda: datetime.now(tz=UTC)):
        self.keys, self.stores, self.clock = keys, stores, clock

    def create(self, name: str, role: str, store_id: str | None) -> dict[str, Any]:
        """The key itself is in this answer only: it is not stored and cannot be shown again."""
        if role == Role.MANAGER.value and not store_id:
            raise InvalidEvent("a manager key needs a store", [{"field": "store_id", "problem": "required"}])
        if store_id and self.stores.store(store_id) is None:
            raise InvalidEvent("store_id names no store", [{"field": "store_id", "problem": "unknown store"}])
        key_id, shown, hashed = new_key()
        key = ApiKey(key_id, name, role, store_id if role == Role.MANAGER.value else None, hashed, self.clock())
        self.keys.put(key)
        return {**key.view(), "key": shown}

    def list(self) -> dict[str, Any]:
        return {"keys": [key.view() for key in sorted(self.keys.all(), key=lambda k: k.created_at)]}

    def revoke(self, key_id: str) -> dict[str, Any]:
        key = self.keys.revoke(key_id)
        if key is None:
            raise NotFound("no such API key")
        return key.view()
