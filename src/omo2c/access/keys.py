"""API keys for POS/EC systems and reporting tools: shown once, stored as a hash, revocable.

A key reads ``omo_<key id>_<secret>``: the id finds the stored record with one GetItem, the
secret is compared with its hash in constant time, so a leaked table gives nobody a key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

PREFIX = "omo_"
KEY_ID_LENGTH = 12
KEY_SHAPE = re.compile(rf"^omo_([0-9a-f]{{{KEY_ID_LENGTH}}})_([A-Za-z0-9_-]{{43}})$")


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    role: str
    store_id: str | None
    secret_hash: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def view(self) -> dict[str, object]:
        return {"key_id": self.key_id, "name": self.name, "role": self.role, "store_id": self.store_id,
                "created_at": self.created_at.isoformat(), "active": self.active,
                "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None}


def secret_hash(secret: str) -> str:
    return hashlib.sha256(f"omo2c-api-key:{secret}".encode()).hexdigest()


def new_key() -> tuple[str, str, str]:
    """(key id, the key as shown once, the hash that is stored)."""
    key_id = secrets.token_hex(KEY_ID_LENGTH // 2)
    secret = secrets.token_urlsafe(32)
    return key_id, f"{PREFIX}{key_id}_{secret}", secret_hash(secret)


def parse_key(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    match = KEY_SHAPE.match(token)
    return (match.group(1), match.group(2)) if match else None


def matches(key: ApiKey, secret: str) -> bool:
    return key.active and hmac.compare_digest(key.secret_hash, secret_hash(secret))
