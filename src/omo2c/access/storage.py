"""API keys in the members table: all in one partition, so the admin lists them with one Query."""

from __future__ import annotations

from contextlib import suppress
from datetime import UTC, datetime

from pynamodb.attributes import UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError

from omo2c.access.keys import ApiKey
from omo2c.core.dynamo import MembersTableItem, configure
from omo2c.core.errors import Conflict
from omo2c.core.settings import Settings


class ApiKeyItem(MembersTableItem):
    """pk=APIKEYS, sk=KEY#<key id>: the key's scope and the hash of its secret (never the secret)."""

    key_id = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    store_id = UnicodeAttribute(null=True)
    secret_hash = UnicodeAttribute()
    created_at = UnicodeAttribute()
    revoked_at = UnicodeAttribute(null=True)


def _key(item: ApiKeyItem) -> ApiKey:
    return ApiKey(item.key_id, item.name, item.role, item.store_id, item.secret_hash,
                  datetime.fromisoformat(item.created_at),
                  datetime.fromisoformat(item.revoked_at) if item.revoked_at else None)


class ApiKeyStore:
    def __init__(self, settings: Settings) -> None:
        configure(settings, (ApiKeyItem,))

    def put(self, key: ApiKey) -> None:
        try:
            ApiKeyItem("APIKEYS", f"KEY#{key.key_id}", key_id=key.key_id, name=key.name, role=key.role,
                       store_id=key.store_id, secret_hash=key.secret_hash,
                       created_at=key.created_at.isoformat()).save(condition=ApiKeyItem.pk.does_not_exist())
        except PutError as exc:
            raise Conflict("a key with this id exists") from exc

    def get(self, key_id: str) -> ApiKey | None:
        try:
            return _key(ApiKeyItem.get("APIKEYS", f"KEY#{key_id}"))
        except ApiKeyItem.DoesNotExist:
            return None

    def all(self) -> list[ApiKey]:
        return [_key(item) for item in ApiKeyItem.query("APIKEYS", ApiKeyItem.sk.startswith("KEY#"))]

    def revoke(self, key_id: str) -> ApiKey | None:
        """Revoked at once and for good; revoking again keeps the first time."""
        key = self.get(key_id)
        if key is None or not key.active:
            return key
        now = datetime.now(tz=UTC).isoformat()
        with suppress(UpdateError):  # revoked concurrently: the first revocation stands
            ApiKeyItem("APIKEYS", f"KEY#{key_id}").update(actions=[ApiKeyItem.revoked_at.set(now)],
                                                           condition=ApiKeyItem.revoked_at.does_not_exist())
        return self.get(key_id)
