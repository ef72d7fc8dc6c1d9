"""Staff, stores and staff codes in the members table."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from omo2c.core.dynamo import _MembersTable, configure
from omo2c.core.errors import Conflict
from omo2c.core.settings import Settings, get_settings
from omo2c.identity.identifiers import InvalidIdentifier, normalize_phone
from omo2c.staff.model import Staff, StaffCode, Store, new_code

STORE_PHONES_TTL_SECONDS = 60


class StaffItem(_MembersTable):
    """pk=STAFF#<id>, sk=PROFILE."""

    staff_id = UnicodeAttribute()
    name = UnicodeAttribute()
    store_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="active")
    code = UnicodeAttribute(null=True)
    transfer_to_staff_id = UnicodeAttribute(null=True)
    transfer_to_store_id = UnicodeAttribute(null=True)
    updated_at = NumberAttribute(default=0)


class StaffCodeItem(_MembersTable):
    """pk=STAFFCODE#<code>, sk=CODE: which staff member a QR code or shared link points at."""

    code = UnicodeAttribute()
    staff_id = UnicodeAttribute()
    status = UnicodeAttribute(default="active")
    issued_at = UnicodeAttribute()


class StoreItem(_MembersTable):
    """pk=STORES, sk=STORE#<id>: all stores in one partition, listed by one query.

    A store's phone never identifies a customer, so ingest reads the list often (cached).
    """

    store_id = UnicodeAttribute()
    name = UnicodeAttribute()
    phone = UnicodeAttribute(null=True)


STAFF_MODELS = (StaffItem, StaffCodeItem, StoreItem)


def _staff(item: StaffItem) -> Staff:
    return Staff(item.staff_id, item.name, item.store_id, item.status, item.code, item.transfer_to_staff_id,
                 item.transfer_to_store_id)


class StaffDirectory:
    """Reads and writes of staff, stores and codes; codes rotate atomically with their staff."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        configure(self.settings, STAFF_MODELS)
        self._store_phones: tuple[float, set[str]] = (0.0, set())

    def staff(self, staff_id: str) -> Staff | None:
        try:
            return _staff(StaffItem.get(f"STAFF#{staff_id}", "PROFILE"))
        except StaffItem.DoesNotExist:
            return None

    def staff_many(self, staff_ids: set[str]) -> dict[str, Staff]:
        if not staff_ids:
            return {}
        items = StaffItem.batch_get([(f"STAFF#{s}", "PROFILE") for s in staff_ids])
        return {item.staff_id: _staff(item) for item in items}

    def code(self, code: str) -> StaffCode | None:
        try:
            item = StaffCodeItem.get(f"STAFFCODE#{code}", "CODE")
        except StaffCodeItem.DoesNotExist:
            return None
        return StaffCode(item.code, item.staff_id, item.status, datetime.fromisoformat(item.issued_at))

    def store(self, store_id: str) -> Store | None:
        try:
            item = StoreItem.get("STORES", f"STORE#{store_id}")
        except StoreItem.DoesNotExist:
            return None
        return Store(item.store_id, item.name, item.phone)

    def store_phones(self) -> set[str]:
        """The stores' own phones (cached briefly: read on every ingest, changed rarely)."""
        fetched_at, phones = self._store_phones
        if time.monotonic() - fetched_at < STORE_PHONES_TTL_SECONDS:
            return phones
        phones = {item.phone for item in StoreItem.query("STORES", StoreItem.sk.startswith("STORE#")) if item.phone}
        self._store_phones = (time.monotonic(), phones)
        return phones

    def put_store(self, store_id: str, name: str, phone: str | None) -> Store:
        normal = None
        if phone:
            try:
                normal = normalize_phone(phone, self.settings.default_region)
            except InvalidIdentifier:
                normal = None
        StoreItem("STORES", f"STORE#{store_id}", store_id=store_id, name=name, phone=normal).save()
        self._store_phones = (0.0, set())
        return Store(store_id, name, normal)

    def put_staff(self, staff_id: str, name: str, store_id: str | None, status: str) -> tuple[Staff, bool]:
        """Create or update a staff member; a new one gets a code in the same transaction."""
        existing = self.staff(staff_id)
        now = datetime.now(tz=UTC)
        if existing is not None:
            item = StaffItem(f"STAFF#{staff_id}", "PROFILE")
            item.update(actions=[StaffItem.name.set(name), StaffItem.store_id.set(store_id),
                                 StaffItem.status.set(status), StaffItem.updated_at.set(int(now.timestamp()))])
            return _staff(StaffItem.get(f"STAFF#{staff_id}", "PROFILE")), False
        code = new_code()
        try:
            with TransactWrite(connection=StaffItem._get_connection().connection) as tx:
                tx.save(StaffItem(f"STAFF#{staff_id}", "PROFILE", staff_id=staff_id, name=name, store_id=store_id,
                                  status=status, code=code, updated_at=int(now.timestamp())),
                        condition=StaffItem.pk.does_not_exist())
                tx.save(StaffCodeItem(f"STAFFCODE#{code}", "CODE", code=code, staff_id=staff_id, status="active",
                                      issued_at=now.isoformat()), condition=StaffCodeItem.pk.does_not_exist())
        except TransactWriteError as exc:
            raise Conflict("staff was created concurrently") from exc
        return Staff(staff_id, name, store_id, status, code), True

    def rotate_code(self, staff: Staff) -> str:
        """A new code for the staff member; the old one is retired in the same transaction."""
        code = new_code()
        now = datetime.now(tz=UTC).isoformat()
        try:
            with TransactWrite(connection=StaffItem._get_connection().connection) as tx:
                tx.update(StaffItem(f"STAFF#{staff.staff_id}", "PROFILE"), actions=[StaffItem.code.set(code)],
                          condition=StaffItem.code == staff.code if staff.code else StaffItem.code.does_not_exist())
                tx.save(StaffCodeItem(f"STAFFCODE#{code}", "CODE", code=code, staff_id=staff.staff_id,
                                      status="active", issued_at=now), condition=StaffCodeItem.pk.does_not_exist())
                if staff.code:
                    tx.update(StaffCodeItem(f"STAFFCODE#{staff.code}", "CODE"),
                              actions=[StaffCodeItem.status.set("retired")])
        except TransactWriteError as exc:
            raise Conflict("the code changed concurrently") from exc
        return code

    def mark_left(self, staff: Staff, transfer_to_staff_id: str | None, transfer_to_store_id: str | None) -> Staff:
        actions: list[Any] = [StaffItem.status.set("left"),
                              StaffItem.updated_at.set(int(datetime.now(tz=UTC).timestamp()))]
        actions.append(StaffItem.transfer_to_staff_id.set(transfer_to_staff_id) if transfer_to_staff_id
                       else StaffItem.transfer_to_staff_id.remove())
        actions.append(StaffItem.transfer_to_store_id.set(transfer_to_store_id) if transfer_to_store_id
                       else StaffItem.transfer_to_store_id.remove())
        StaffItem(f"STAFF#{staff.staff_id}", "PROFILE").update(actions=actions)
        return Staff(staff.staff_id, staff.name, staff.store_id, "left", staff.code, transfer_to_staff_id,
                     transfer_to_store_id)
