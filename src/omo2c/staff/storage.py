"""Staff, stores and staff codes in the members table."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import ListAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from omo2c.core.dynamo import Brief, MembersTableItem, configure
from omo2c.core.errors import Conflict
from omo2c.core.settings import Settings
from omo2c.identity.identifiers import InvalidIdentifier, normalize_phone
from omo2c.staff.model import Staff, StaffCode, Store, link_code_hash, new_code

STORES_TTL_SECONDS = 60


class StaffItem(MembersTableItem):
    """pk=STAFF#<id>, sk=PROFILE."""

    staff_id = UnicodeAttribute()
    name = UnicodeAttribute()
    store_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default="active")
    code = UnicodeAttribute(null=True)
    transfer_to_staff_id = UnicodeAttribute(null=True)
    transfer_to_store_id = UnicodeAttribute(null=True)
    role = UnicodeAttribute(default="staff")
    line_user_id = UnicodeAttribute(null=True)
    updated_at = NumberAttribute(default=0)


class StaffLineItem(MembersTableItem):
    """pk=STAFFLINE#<LINE user id>, sk=LINK: the staff member a signed-in LINE account is (one at most)."""

    line_user_id = UnicodeAttribute()
    staff_id = UnicodeAttribute()
    linked_at = UnicodeAttribute()


class StaffLinkCodeItem(MembersTableItem):
    """pk=STAFFLINKCODE#<hash of the code>, sk=CODE: a one-time code that links a LINE account, kept a day."""

    staff_id = UnicodeAttribute()
    issued_at = UnicodeAttribute()
    expires_at = NumberAttribute()


class StaffCodeItem(MembersTableItem):
    """pk=STAFFCODE#<code>, sk=CODE: which staff member a QR code or shared link points at."""

    code = UnicodeAttribute()
    staff_id = UnicodeAttribute()
    status = UnicodeAttribute(default="active")
    issued_at = UnicodeAttribute()


class StoreItem(MembersTableItem):
    """pk=STORES, sk=STORE#<id>: all stores in one partition, listed by one query.

    A store's phone never identifies a customer, so ingest reads the list often (cached).
    """

    store_id = UnicodeAttribute()
    name = UnicodeAttribute()
    phone = UnicodeAttribute(null=True)


class StaffKpiItem(MembersTableItem):
    """pk=STAFFKPI#<staff_id>, sk=MONTH#<YYYY-MM>: the counters of a staff member's month (UTC, like the ledger).

    Each counter is added to in the same transaction as the fact it counts (a reply, a click), so a
    retried request that writes nothing new counts nothing new.
    """

    staff_id = UnicodeAttribute(null=True)
    month = UnicodeAttribute(null=True)
    messages_answered = NumberAttribute(default=0)
    clicks = NumberAttribute(default=0)
    bot_clicks = NumberAttribute(default=0)
    repeat_clicks = NumberAttribute(default=0)
    reply_seconds = ListAttribute(of=NumberAttribute, default=list)


KPI_COUNTERS = ("messages_answered", "clicks", "bot_clicks", "repeat_clicks")


def kpi_month(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m")


def kpi_update(staff_id: str, at: datetime, counts: dict[str, int],
               reply_seconds: int | None = None) -> tuple[StaffKpiItem, list[Any]]:
    """The item and update actions that add to a month's counters: for ``TransactWrite.update``."""
    unknown = set(counts) - set(KPI_COUNTERS)
    if unknown:
        raise ValueError(f"unknown staff counters: {sorted(unknown)}")
    month = kpi_month(at)
    item = StaffKpiItem(f"STAFFKPI#{staff_id}", f"MONTH#{month}")
    actions: list[Any] = [StaffKpiItem.staff_id.set(staff_id), StaffKpiItem.month.set(month)]
    actions += [getattr(StaffKpiItem, name).add(value) for name, value in counts.items() if value]
    if reply_seconds is not None:
        actions.append(StaffKpiItem.reply_seconds.set(
            (StaffKpiItem.reply_seconds | []).append([max(0, int(reply_seconds))])))
    return item, actions


class StaffKpis:
    """A staff member's month of counters: added to with :func:`kpi_update`, read with one GetItem."""

    def __init__(self, settings: Settings) -> None:
        configure(settings, (StaffKpiItem,))

    def add(self, staff_id: str, at: datetime, counts: dict[str, int], reply_seconds: int | None = None) -> None:
        item, actions = kpi_update(staff_id, at, counts, reply_seconds)
        item.update(actions=actions)

    def month(self, staff_id: str, month: str) -> dict[str, Any]:
        try:
            item = StaffKpiItem.get(f"STAFFKPI#{staff_id}", f"MONTH#{month}")
        except StaffKpiItem.DoesNotExist:
            return {**dict.fromkeys(KPI_COUNTERS, 0), "reply_seconds": []}
        return {**{name: int(getattr(item, name) or 0) for name in KPI_COUNTERS},
                "reply_seconds": [int(v) for v in (item.reply_seconds or [])]}


STAFF_MODELS = (StaffItem, StaffCodeItem, StoreItem, StaffKpiItem, StaffLineItem, StaffLinkCodeItem)


def staff_key(staff_id: str) -> tuple[str, str]:
    return f"STAFF#{staff_id}", "PROFILE"


def staff_code_key(code: str) -> tuple[str, str]:
    return f"STAFFCODE#{code}", "CODE"


def _staff(item: StaffItem) -> Staff:
    return Staff(item.staff_id, item.name, item.store_id, item.status, item.code, item.transfer_to_staff_id,
                 item.transfer_to_store_id, item.role or "staff", item.line_user_id)


def _code(item: StaffCodeItem) -> StaffCode:
    return StaffCode(item.code, item.staff_id, item.status, datetime.fromisoformat(item.issued_at))


def staff_from_raw(raw: dict[str, Any]) -> Staff:
    return _staff(StaffItem.from_raw_data(raw))


def code_from_raw(raw: dict[str, Any]) -> StaffCode:
    return _code(StaffCodeItem.from_raw_data(raw))


class StaffDirectory:
    """Reads and writes of staff, stores and codes; codes rotate atomically with their staff."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        configure(self.settings, STAFF_MODELS)
        self._stores = Brief(STORES_TTL_SECONDS, self._read_stores)
        self._names: dict[str, Brief[str | None]] = {}

    def staff(self, staff_id: str) -> Staff | None:
        try:
            return _staff(StaffItem.get(*staff_key(staff_id)))
        except StaffItem.DoesNotExist:
            return None

    def code(self, code: str) -> StaffCode | None:
        try:
            return _code(StaffCodeItem.get(*staff_code_key(code)))
        except StaffCodeItem.DoesNotExist:
            return None

    def store(self, store_id: str) -> Store | None:
        try:
            item = StoreItem.get("STORES", f"STORE#{store_id}")
        except StoreItem.DoesNotExist:
            return None
        return Store(item.store_id, item.name, item.phone)

    def stores(self) -> dict[str, Store]:
        """Every store, read as one partition and cached briefly: they change rarely and are read often
        (their phones on every ingest, their names in replies and messages)."""
        return self._stores.get()

    @staticmethod
    def _read_stores() -> dict[str, Store]:
        return {item.store_id: Store(item.store_id, item.name, item.phone)
                for item in StoreItem.query("STORES", StoreItem.sk.startswith("STORE#"))}

    def store_phones(self) -> set[str]:
        return {store.phone for store in self.stores().values() if store.phone}

    def staff_name(self, staff_id: str | None) -> str | None:
        """Names for message signatures, cached briefly like the stores."""
        if not staff_id:
            return None
        if staff_id not in self._names:
            self._names[staff_id] = Brief(STORES_TTL_SECONDS, lambda: self._name_of(staff_id))
        return self._names[staff_id].get()

    def _name_of(self, staff_id: str) -> str | None:
        staff = self.staff(staff_id)
        return staff.name if staff else None

    def store_name(self, store_id: str | None) -> str | None:
        store = self.stores().get(store_id) if store_id else None
        return store.name if store else None

    def put_store(self, store_id: str, name: str, phone: str | None) -> Store:
        normal = None
        if phone:
            try:
                normal = normalize_phone(phone, self.settings.default_region)
            except InvalidIdentifier:
                normal = None
        StoreItem("STORES", f"STORE#{store_id}", store_id=store_id, name=name, phone=normal).save()
        self._stores.forget()
        return Store(store_id, name, normal)

    def put_staff(self, staff_id: str, name: str, store_id: str | None, status: str,
                  role: str = "staff") -> tuple[Staff, bool]:
        """Create or update a staff member; a new one gets a code in the same transaction."""
        existing = self.staff(staff_id)
        now = datetime.now(tz=UTC)
        if existing is not None:
            item = StaffItem(f"STAFF#{staff_id}", "PROFILE")
            item.update(actions=[StaffItem.name.set(name), StaffItem.store_id.set(store_id),
                                 StaffItem.status.set(status), StaffItem.role.set(role),
                                 StaffItem.updated_at.set(int(now.timestamp()))])
            return _staff(StaffItem.get(*staff_key(staff_id))), False
        code = new_code()
        try:
            with TransactWrite(connection=StaffItem._get_connection().connection) as tx:
                tx.save(StaffItem(f"STAFF#{staff_id}", "PROFILE", staff_id=staff_id, name=name, store_id=store_id,
                                  status=status, code=code, role=role, updated_at=int(now.timestamp())),
                        condition=StaffItem.pk.does_not_exist())
                tx.save(StaffCodeItem(f"STAFFCODE#{code}", "CODE", code=code, staff_id=staff_id, status="active",
                                      issued_at=now.isoformat()), condition=StaffCodeItem.pk.does_not_exist())
        except TransactWriteError as exc:
            raise Conflict("staff was created concurrently") from exc
        return Staff(staff_id, name, store_id, status, code, role=role), True

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
                     transfer_to_store_id, staff.role, staff.line_user_id)

    # ------------------------------------------------------------------ LINE accounts of staff
    def put_link_code(self, staff_id: str, code: str, expires_at: int) -> None:
        StaffLinkCodeItem(f"STAFFLINKCODE#{link_code_hash(code)}", "CODE", staff_id=staff_id,
                          issued_at=datetime.now(tz=UTC).isoformat(), expires_at=expires_at).save()

    def link_code_owner(self, code: str, now: int) -> str | None:
        """The staff id a link code was issued for, while it is unused and unexpired (TTL deletes lazily)."""
        try:
            item = StaffLinkCodeItem.get(f"STAFFLINKCODE#{link_code_hash(code)}", "CODE", consistent_read=True)
        except StaffLinkCodeItem.DoesNotExist:
            return None
        return item.staff_id if int(item.expires_at) > now else None

    def link_line(self, staff: Staff, line_user_id: str, code: str, now: int) -> None:
        """Use the code and link the LINE account in one transaction: the code works once, a LINE account
        belongs to one staff member, and a staff member has one LINE account (the previous one is let go)."""
        code_item = StaffLinkCodeItem(f"STAFFLINKCODE#{link_code_hash(code)}", "CODE")
        try:
            with TransactWrite(connection=StaffItem._get_connection().connection) as tx:
                tx.delete(code_item, condition=(StaffLinkCodeItem.staff_id == staff.staff_id)
                          & (StaffLinkCodeItem.expires_at > now))
                tx.save(StaffLineItem(f"STAFFLINE#{line_user_id}", "LINK", line_user_id=line_user_id,
                                      staff_id=staff.staff_id, linked_at=datetime.now(tz=UTC).isoformat()),
                        condition=StaffLineItem.pk.does_not_exist() | (StaffLineItem.staff_id == staff.staff_id))
                tx.update(StaffItem(*staff_key(staff.staff_id)), actions=[StaffItem.line_user_id.set(line_user_id)],
                          condition=(StaffItem.line_user_id == staff.line_user_id) if staff.line_user_id
                          else StaffItem.line_user_id.does_not_exist())
                if staff.line_user_id and staff.line_user_id != line_user_id:
                    tx.delete(StaffLineItem(f"STAFFLINE#{staff.line_user_id}", "LINK"),
                              condition=StaffLineItem.staff_id == staff.staff_id)
        except TransactWriteError as exc:
            raise Conflict("the code was used, or this LINE account belongs to another staff member") from exc

    def unlink_line(self, staff: Staff) -> None:
        if not staff.line_user_id:
            return
        try:
            with TransactWrite(connection=StaffItem._get_connection().connection) as tx:
                tx.update(StaffItem(*staff_key(staff.staff_id)), actions=[StaffItem.line_user_id.remove()],
                          condition=StaffItem.line_user_id == staff.line_user_id)
                tx.delete(StaffLineItem(f"STAFFLINE#{staff.line_user_id}", "LINK"),
                          condition=StaffLineItem.staff_id == staff.staff_id)
        except TransactWriteError as exc:
            raise Conflict("the staff member's LINE account changed concurrently") from exc

    def staff_by_line(self, line_user_id: str) -> Staff | None:
        """The staff member a signed-in LINE account is: the link, then the staff record it names."""
        try:
            link = StaffLineItem.get(f"STAFFLINE#{line_user_id}", "LINK")
        except StaffLineItem.DoesNotExist:
            return None
        staff = self.staff(link.staff_id)
        return staff if staff is not None and staff.line_user_id == line_user_id else None
