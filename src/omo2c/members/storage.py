"""The members table as the membership sees it: members, identities, event markers and merges.

Snapshots for the resolver come from one consistent BatchGetItem; every write plan is one
TransactWriteItems whose conditions (identifier not yet owned, order version, member version)
settle races. Bindings and LINE status are written here too, conditioned on the member's
version, so the ingest worker and the LINE webhook never overwrite each other.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.transactions import TransactWrite

from omo2c.binding.model import Binding
from omo2c.binding.storage import BindingHistoryItem, binding_history, history_item
from omo2c.core.dynamo import DecimalAttribute, MembersTableItem, batch_get, configure, plain
from omo2c.core.errors import Conflict
from omo2c.core.settings import Settings
from omo2c.events import from_stored
from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.members.model import NO_ORDER_DAY, FirstPosOrder, LineStatus, Member, ProfileValue, Rfm
from omo2c.members.resolution import (
    TRANSACTION_ITEMS,
    IdentityRecord,
    MemberChange,
    MergeRecord,
    Snapshot,
    WritePlan,
)
from omo2c.orders.storage import OrderItem, order_from_item, order_item, order_key

EVENT_MARKER_TTL_SECONDS = 90 * 86_400
MAX_POINTER_HOPS = 16
ACTIVITY_SHARDS = 8
ACTIVITY_TZ = timedelta(hours=8)
AUDIENCE_SHARDS = 16


class TagSetAttribute(UnicodeSetAttribute):
    """Tags as a string set, so the fast path's ADD never repeats one; items from before kept a list."""

    def get_value(self, value: dict[str, Any]) -> Any:
        if "L" in value:
            return [entry["S"] for entry in value["L"] if "S" in entry]
        return super().get_value(value)


class ByBoundStaff(GlobalSecondaryIndex["MemberItem"]):
    """Members bound to a staff member, newest binding last."""

    class Meta:
        index_name = "ByBoundStaff"
        projection = AllProjection()

    bound_staff_id = UnicodeAttribute(hash_key=True)
    bound_at = UnicodeAttribute(range_key=True)


class ByLastOrderDay(GlobalSecondaryIndex["MemberItem"]):
    """Live members with orders, per activity shard, by the day of their last order."""

    class Meta:
        index_name = "ByLastOrderDay"
        projection = AllProjection()

    activity_shard = UnicodeAttribute(hash_key=True)
    last_order_day = UnicodeAttribute(range_key=True)


class ByBirthday(GlobalSecondaryIndex["MemberItem"]):
    """Live members by the day of their birthday: ``birthday_key`` = ``<MM-DD>#<audience shard>``, by member id."""

    class Meta:
        index_name = "ByBirthday"
        projection = AllProjection()

    birthday_key = UnicodeAttribute(hash_key=True)
    member_id = UnicodeAttribute(range_key=True)


class MemberItem(MembersTableItem):
    """pk=MEMBER#<id>, sk=PROFILE. The bind function owns ``line``/``binding``/``bound_*`` (attribution
    only moves ``binding.last_interaction_at`` forward)."""

    member_id = UnicodeAttribute()
    created_at = NumberAttribute()
    status = UnicodeAttribute(default="live")
    merged_into = UnicodeAttribute(null=True)
    identifiers = ListAttribute(of=UnicodeAttribute, default=list)
    profile = MapAttribute(default=dict)
    consent = MapAttribute(default=dict)
    tags = TagSetAttribute(null=True)
    first_order_at = NumberAttribute(null=True)
    last_order_at = NumberAttribute(null=True)
    last_order_day = UnicodeAttribute(null=True)
    activity_shard = UnicodeAttribute(null=True)
    order_count = NumberAttribute(default=0)
    net_spent = DecimalAttribute(default=lambda: Decimal(0))
    absorbed = ListAttribute(of=UnicodeAttribute, default=list)
    last_event_at = NumberAttribute(default=0)
    version = NumberAttribute(default=0)
    line = MapAttribute(null=True)
    binding = MapAttribute(null=True)
    bound_staff_id = UnicodeAttribute(null=True)
    bound_store_id = UnicodeAttribute(null=True)
    bound_at = UnicodeAttribute(null=True)
    opted_out = BooleanAttribute(null=True)
    first_pos_order_at = NumberAttribute(null=True)
    first_pos_store_id = UnicodeAttribute(null=True)
    email_bounced = UnicodeAttribute(null=True)
    birthday_md = UnicodeAttribute(null=True)
    birthday_key = UnicodeAttribute(null=True)
    by_bound_staff = ByBoundStaff()
    by_last_order_day = ByLastOrderDay()
    by_birthday = ByBirthday()


class IdentityItem(MembersTableItem):
    """pk=IDENT#<kind>#<value>, sk=IDENT: the one live member an identifier belongs to."""

    member_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    created_at = NumberAttribute()
    flagged = BooleanAttribute(default=False)
    seen_members = ListAttribute(of=UnicodeAttribute, default=list)


class EventItem(MembersTableItem):
    """pk=EVENT#<source>#<event_id>, sk=EVENT: marks an event as recorded (redeliveries stop here)."""

    event_id = UnicodeAttribute()
    recorded_at = NumberAttribute()
    member_id = UnicodeAttribute(null=True)
    published = ListAttribute(default=list)
    blocked_identifiers = ListAttribute(of=UnicodeAttribute, default=list)
    expires_at = NumberAttribute(null=True)


class MergeItem(MembersTableItem):
    """pk=MEMBER#<survivor>, sk=MERGE#<merge_id>: what one merge moved, so it can be undone."""

    merge_id = UnicodeAttribute()
    survivor_id = UnicodeAttribute()
    absorbed_id = UnicodeAttribute()
    at = NumberAttribute()
    event_id = UnicodeAttribute()
    reason = UnicodeAttribute()
    status = UnicodeAttribute(default="merged")
    moved_identifiers = ListAttribute(of=UnicodeAttribute, default=list)
    absorbed_before = MapAttribute(default=dict)
    survivor_before = MapAttribute(default=dict)


class TagItem(MembersTableItem):
    """pk=MEMBER#<id>, sk=TAG#<tag>: where one of the member's tags came from, and when (the first time).

    Written with the member's ``tags`` set and the tag's audience item, in one transaction."""

    member_id = UnicodeAttribute()
    tag = UnicodeAttribute()
    source = UnicodeAttribute()
    at = NumberAttribute()


class AudienceItem(MembersTableItem):
    """pk=AUDIENCE#tag:<tag>#<shard>, sk=MEMBER#<id>: a tag's members, so a tag segment reads only them.

    Like orders, a merged member's items stay under its own id: reading them follows the merge pointer."""

    member_id = UnicodeAttribute()
    tag = UnicodeAttribute(null=True)


MEMBER_MODELS = (MemberItem, IdentityItem, OrderItem, EventItem, MergeItem, BindingHistoryItem, TagItem,
                 AudienceItem)


def activity_shard(member_id: str) -> str:
    """Spread the campaign activity index over a few partitions, stable per member."""
    return f"A{sum(member_id.encode()) % ACTIVITY_SHARDS}"


def audience_shard(member_id: str) -> int:
    """Audience partitions (tags here, tiers in the ByTier index, birthdays in ByBirthday): 16, stable per member."""
    return int(hashlib.sha256(member_id.encode()).hexdigest(), 16) % AUDIENCE_SHARDS


def birthday_key(month_day: str, member_id: str) -> str:
    """The ``ByBirthday`` partition of a member: a day's birthdays spread over the 16 audience shards."""
    return f"{month_day}#{audience_shard(member_id)}"


def tag_key(member_id: str, tag: str) -> tuple[str, str]:
    return f"MEMBER#{member_id}", f"TAG#{tag}"


def audience_key(kind: str, value: str, member_id: str) -> tuple[str, str]:
    return f"AUDIENCE#{kind}:{value}#{audience_shard(member_id)}", f"MEMBER#{member_id}"


def grant_tag(tx: TransactWrite, member_id: str, tag: str, source: str, at: int) -> None:
    """The tag's provenance (the first source and time are kept) and its audience item; both idempotent."""
    tx.update(TagItem(*tag_key(member_id, tag)), actions=[
        TagItem.member_id.set(member_id), TagItem.tag.set(tag),
        TagItem.source.set(TagItem.source | source), TagItem.at.set(TagItem.at | at)])
    tx.save(AudienceItem(*audience_key("tag", tag, member_id), member_id=member_id, tag=tag))


def drop_tag(tx: TransactWrite, member_id: str, tag: str) -> None:
    tx.delete(TagItem(*tag_key(member_id, tag)))
    tx.delete(AudienceItem(*audience_key("tag", tag, member_id)))


def tag_items(member_id: str) -> list[TagItem]:
    """The provenance items under one member id (consistent: a tag just written is there)."""
    return list(TagItem.query(f"MEMBER#{member_id}", TagItem.sk.startswith("TAG#"), consistent_read=True))


def order_day(ms: int) -> str:
    """The activity index's sort key: the day of the last order in the brand's time zone."""
    return (datetime.fromtimestamp(ms / 1000, tz=UTC) + ACTIVITY_TZ).strftime("%Y-%m-%d")


def member_key(member_id: str) -> tuple[str, str]:
    return f"MEMBER#{member_id}", "PROFILE"


def identity_key(identifier: Identifier) -> tuple[str, str]:
    return f"IDENT#{identifier.key}", "IDENT"


def event_key(key: str) -> tuple[str, str]:
    return f"EVENT#{key}", "EVENT"


def parse_identifier(text: str) -> Identifier:
    kind, _, value = text.partition("#")
    return Identifier(IdentifierKind(kind), value)


def member_from_item(item: MemberItem) -> Member:
    profile = {
        name: ProfileValue(str(entry["value"]), str(entry.get("source", "")), int(entry.get("at", 0)))
        for name, entry in (plain(item.profile) or {}).items()
    }
    return Member(
        member_id=item.member_id,
        created_at=int(item.created_at),
        status=item.status,
        merged_into=item.merged_into,
        identifiers=[parse_identifier(i) for i in item.identifiers or []],
        profile=profile,
        consent={k: bool(v) for k, v in (plain(item.consent) or {}).items()},
        tags=sorted(item.tags or ()),
        rfm=Rfm(
            int(item.first_order_at) if item.first_order_at is not None else None,
            int(item.last_order_at) if item.last_order_at is not None else None,
            int(item.order_count or 0),
            Decimal(item.net_spent or 0),
        ),
        absorbed=list(item.absorbed or []),
        last_event_at=int(item.last_event_at or 0),
        version=int(item.version or 0),
        line=LineStatus.from_stored(plain(item.line)),
        binding=Binding.from_stored(plain(item.binding)),
        opted_out=bool(item.opted_out),
        first_pos_order=FirstPosOrder(int(item.first_pos_order_at), item.first_pos_store_id)
        if item.first_pos_order_at is not None and item.first_pos_store_id else None,
        email_bounced=item.email_bounced,
    )


def member_to_dict(member: Member) -> dict[str, Any]:
    """Snapshot form kept on merge records."""
    return {
        "member_id": member.member_id, "created_at": member.created_at, "status": member.status,
        "identifiers": [i.key for i in member.identifiers],
        "profile": _profile_map(member.profile),
        "consent": dict(member.consent), "tags": list(member.tags),
        "first_order_at": member.rfm.first_order_at, "last_order_at": member.rfm.last_order_at,
        "order_count": member.rfm.order_count, "net_spent": str(member.rfm.net_spent),
        "absorbed": list(member.absorbed), "last_event_at": member.last_event_at,
        "line": member.line.stored() if member.line else {},
        "binding": member.binding.stored() if member.binding else {},
        "opted_out": member.opted_out,
        "first_pos_order": {"at": member.first_pos_order.at, "store_id": member.first_pos_order.store_id}
        if member.first_pos_order else {},
        "email_bounced": member.email_bounced,
    }


def member_from_dict(data: dict[str, Any]) -> Member:
    item = MemberItem(*member_key(data["member_id"]))
    item.member_id = data["member_id"]
    item.created_at = data["created_at"]
    item.status = data.get("status", "live")
    item.identifiers = data.get("identifiers", [])
    item.profile = data.get("profile", {})
    item.consent = data.get("consent", {})
    item.tags = set(data.get("tags") or ()) or None
    item.first_order_at = data.get("first_order_at")
    item.last_order_at = data.get("last_order_at")
    item.order_count = data.get("order_count", 0)
    item.net_spent = Decimal(str(data.get("net_spent", "0")))
    item.absorbed = data.get("absorbed", [])
    item.last_event_at = data.get("last_event_at", 0)
    item.line = data.get("line") or None
    item.binding = data.get("binding") or None
    item.opted_out = bool(data.get("opted_out"))
    first_pos = data.get("first_pos_order") or {}
    item.first_pos_order_at, item.first_pos_store_id = first_pos.get("at"), first_pos.get("store_id")
    item.email_bounced = data.get("email_bounced")
    return member_from_item(item)


def _profile_map(profile: dict[str, ProfileValue]) -> dict[str, Any]:
    return {k: {"value": v.value, "source": v.source, "at": v.at} for k, v in profile.items()}


def _binding_actions(binding: Binding | None) -> list[Any]:
    """The binding map and the ByBoundStaff index keys, always written together."""
    if binding is None:
        return [MemberItem.binding.remove(), MemberItem.bound_staff_id.remove(), MemberItem.bound_store_id.remove(),
                MemberItem.bound_at.remove()]
    return [
        MemberItem.binding.set(binding.stored()),
        MemberItem.bound_staff_id.set(binding.staff_id) if binding.staff_id else MemberItem.bound_staff_id.remove(),
        MemberItem.bound_store_id.set(binding.store_id) if binding.store_id else MemberItem.bound_store_id.remove(),
        MemberItem.bound_at.set(binding.bound_at.isoformat()),
    ]


def _tags_action(tags: list[str]) -> Any:
    return MemberItem.tags.set(set(tags)) if tags else MemberItem.tags.remove()


def _birthday_actions(member: Member) -> list[Any]:
    """``birthday_md`` and the ``ByBirthday`` key from the member's profile, always written together."""
    day = member.birthday_md
    if day is None:
        return [MemberItem.birthday_md.remove(), MemberItem.birthday_key.remove()]
    return [MemberItem.birthday_md.set(day), MemberItem.birthday_key.set(birthday_key(day, member.member_id))]


def _first_pos_actions(first: FirstPosOrder | None) -> list[Any]:
    if first is None:
        return [MemberItem.first_pos_order_at.remove(), MemberItem.first_pos_store_id.remove()]
    return [MemberItem.first_pos_order_at.set(first.at), MemberItem.first_pos_store_id.set(first.store_id)]


def _activity_actions(member_id: str, rfm: Rfm) -> list[Any]:
    if rfm.first_order_at is None or rfm.last_order_at is None:
        return []
    return [MemberItem.first_order_at.set(rfm.first_order_at), MemberItem.last_order_at.set(rfm.last_order_at),
            MemberItem.last_order_day.set(order_day(rfm.last_order_at)),
            MemberItem.activity_shard.set(activity_shard(member_id))]


def _merge_from_item(item: MergeItem) -> MergeRecord:
    return MergeRecord(
        merge_id=item.merge_id, survivor_id=item.survivor_id, absorbed_id=item.absorbed_id,
        at=int(item.at), event_id=item.event_id, reason=item.reason,
        moved_identifiers=[parse_identifier(i) for i in item.moved_identifiers or []],
        absorbed_before=member_from_dict(plain(item.absorbed_before)),
        survivor_before=member_from_dict(plain(item.survivor_before)),
        status=item.status,
    )


def _merge_item(merge: MergeRecord) -> MergeItem:
    return MergeItem(
        f"MEMBER#{merge.survivor_id}", f"MERGE#{merge.merge_id}", merge_id=merge.merge_id,
        survivor_id=merge.survivor_id, absorbed_id=merge.absorbed_id, at=merge.at,
        event_id=merge.event_id, reason=merge.reason, status=merge.status,
        moved_identifiers=[i.key for i in merge.moved_identifiers],
        absorbed_before=member_to_dict(merge.absorbed_before),
        survivor_before=member_to_dict(merge.survivor_before),
    )


class DynamoMemberStore:
    """The resolver's store port, the member reads every area asks for, and member-item writes."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        configure(settings, MEMBER_MODELS)

    # ------------------------------------------------------------------ reads
    def read(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """Raw items of the members table by key, in one consistent round trip."""
        return batch_get(MemberItem, keys)

    def snapshot(self, identifiers: list[Identifier], order: tuple[str, str] | None, event: str) -> Snapshot:
        keys = [identity_key(i) for i in identifiers] + [event_key(event)]
        if order:
            keys.append(order_key(*order))
        found = self.read(keys)
        marker = found.get(event_key(event))
        if marker is not None:
            published = plain(EventItem.from_raw_data(marker).published) or []
            return Snapshot({}, None, duplicate_events=[from_stored(p) for p in published])
        identities = {}
        for identifier in identifiers:
            raw = found.get(identity_key(identifier))
            if raw is not None:
                identities[identifier] = identity_from_raw(identifier, raw)
        order_raw = found.get(order_key(*order)) if order else None
        return Snapshot(identities, order_from_item(OrderItem.from_raw_data(order_raw)) if order_raw else None)

    def members(self, member_ids: set[str]) -> dict[str, Member]:
        """Members by id, following merge pointers to the live survivor (the pointers are kept too)."""
        result: dict[str, Member] = {}
        wanted = set(member_ids)
        for _ in range(MAX_POINTER_HOPS):
            if not wanted:
                break
            found = self.read([member_key(m) for m in sorted(wanted)])
            wanted = set()
            for raw in found.values():
                member = member_from_item(MemberItem.from_raw_data(raw))
                result[member.member_id] = member
                if not member.live and member.merged_into and member.merged_into not in result:
                    wanted.add(member.merged_into)
        return result

    def live_members(self, member_ids: list[str]) -> dict[str, Member]:
        """Each requested id to its live member (merged ids lead to the survivor)."""
        found = self.members(set(member_ids))
        out = {}
        for member_id in member_ids:
            member = found.get(member_id)
            hops = 0
            while member is not None and not member.live and member.merged_into and hops < MAX_POINTER_HOPS:
                member, hops = found.get(member.merged_into), hops + 1
            if member is not None and member.live:
                out[member_id] = member
        return out

    def get_member(self, member_id: str) -> Member | None:
        """The live member behind an id (old ids of merged members lead to the survivor)."""
        current = member_id
        for _ in range(MAX_POINTER_HOPS):
            member = self.member_as_stored(current)
            if member is None or member.live or not member.merged_into:
                return member
            current = member.merged_into
        return None

    def member_as_stored(self, member_id: str) -> Member | None:
        """The member item itself, pointer or not."""
        try:
            return member_from_item(MemberItem.get(*member_key(member_id), consistent_read=True))
        except MemberItem.DoesNotExist:
            return None

    def by_last_order_day(self, ranges: list[tuple[str, str]]) -> tuple[list[Member], int]:
        """Members whose last order day falls in the ranges, through the activity index; items read."""
        members: list[Member] = []
        read = 0
        for shard in range(ACTIVITY_SHARDS):
            for low, high in ranges:
                condition = MemberItem.last_order_day.between(low, high)
                for item in MemberItem.by_last_order_day.query(f"A{shard}", condition):
                    read += 1
                    members.append(member_from_item(item))
        return members, read

    def born_on(self, month_day: str) -> tuple[list[Member], int]:
        """Live members whose birthday is ``month_day`` (``MM-DD``), through the ByBirthday index: one paged
        query per audience shard; also the items read. The 29 February rule is the caller's
        (:func:`omo2c.members.model.birthday_days` gives the days to ask for)."""
        digits = month_day[:2] + month_day[3:]
        if not (len(month_day) == 5 and month_day[2] == "-" and digits.isascii() and digits.isdigit()):
            raise ValueError(f"not an MM-DD day: {month_day!r}")
        members: list[Member] = []
        read = 0
        for shard in range(AUDIENCE_SHARDS):
            for item in MemberItem.by_birthday.query(f"{month_day}#{shard}"):
                read += 1
                member = member_from_item(item)
                if member.live:
                    members.append(member)
        return members, read

    def bound_to(self, staff_id: str) -> list[Member]:
        """The members bound to a staff member, through the ByBoundStaff index (never a scan)."""
        return [m for m in (member_from_item(i) for i in MemberItem.by_bound_staff.query(staff_id)) if m.live]

    def find_by_identifier(self, identifier: Identifier) -> Member | None:
        try:
            item = IdentityItem.get(*identity_key(identifier), consistent_read=True)
        except IdentityItem.DoesNotExist:
            return None
        return self.get_member(item.member_id)

    def merge_history(self, member_id: str) -> list[MergeRecord]:
        items = MergeItem.query(f"MEMBER#{member_id}", MergeItem.sk.startswith("MERGE#"))
        return [_merge_from_item(i) for i in items]

    def binding_history(self, member_id: str) -> list[dict[str, Any]]:
        return binding_history(member_id)

    # ------------------------------------------------------------------ the resolver's writes
    def commit(self, plan: WritePlan) -> None:
        try:
            with TransactWrite(connection=MemberItem._get_connection().connection) as tx:
                self._write_event_marker(tx, plan)
                for change in plan.members:
                    self._write_member(tx, change)
                for absorbed in plan.absorbed:
                    self._write_absorbed(tx, absorbed, plan)
                for identifier, member_id in plan.new_identities:
                    item = IdentityItem(*identity_key(identifier), member_id=member_id,
                                        kind=identifier.kind.value, created_at=plan.at)
                    tx.save(item, condition=IdentityItem.pk.does_not_exist())
                for identifier, old, new in plan.repointed:
                    self._repoint(tx, identifier, old, new, plan)
                for record in plan.identity_updates:
                    if any(record.identifier == r[0] for r in plan.repointed):
                        continue
                    item = IdentityItem(*identity_key(record.identifier))
                    tx.update(item, actions=[
                        IdentityItem.flagged.set(record.flagged),
                        IdentityItem.seen_members.set(sorted(record.seen_members)),
                    ], condition=IdentityItem.member_id == record.member_id)
                for merge in plan.merges:
                    tx.save(_merge_item(merge), condition=MergeItem.pk.does_not_exist())
                if plan.order is not None:
                    self._write_order(tx, plan)
                for grant in plan.tags:
                    grant_tag(tx, plan.members[0].member.member_id, grant.tag, grant.source, plan.at)
        except TransactWriteError as exc:
            raise Conflict(str(exc.cause_response_code)) from exc

    def _write_event_marker(self, tx: TransactWrite, plan: WritePlan) -> None:
        member_id = plan.members[0].member.member_id if plan.members else None
        marker = EventItem(*event_key(plan.event_key), event_id=plan.event_id,
                           recorded_at=int(time.time() * 1000), member_id=member_id,
                           published=[e.stored() for e in plan.publish],
                           blocked_identifiers=[i.key for i in plan.blocked],
                           expires_at=int(time.time()) + EVENT_MARKER_TTL_SECONDS)
        tx.save(marker, condition=EventItem.pk.does_not_exist())

    def _write_order(self, tx: TransactWrite, plan: WritePlan) -> None:
        assert plan.order is not None
        item = order_item(plan.order, plan.order_expected_version + 1)
        condition = (OrderItem.pk.does_not_exist() if plan.order_expected_version == 0
                     else OrderItem.version == plan.order_expected_version)
        tx.save(item, condition=condition)

    def _write_member(self, tx: TransactWrite, change: MemberChange) -> None:
        member = change.member
        if change.fast:
            self._fast_update(tx, change)
            return
        item = MemberItem(*member_key(member.member_id))
        rfm = member.rfm
        if change.expected_version is None:
            item.member_id, item.created_at, item.status = member.member_id, member.created_at, "live"
            item.identifiers = [i.key for i in member.identifiers]
            item.profile, item.consent = _profile_map(member.profile), member.consent
            item.tags = set(member.tags) or None
            if member.first_pos_order is not None:
                item.first_pos_order_at = member.first_pos_order.at
                item.first_pos_store_id = member.first_pos_order.store_id
            item.order_count, item.net_spent = rfm.order_count, rfm.net_spent
            item.last_event_at, item.version = member.last_event_at, 1
            item.activity_shard = activity_shard(member.member_id)
            item.last_order_day = NO_ORDER_DAY
            if rfm.last_order_at is not None:
                item.first_order_at, item.last_order_at = rfm.first_order_at, rfm.last_order_at
                item.last_order_day = order_day(rfm.last_order_at)
            if member.line is not None:
                item.line = member.line.stored()
            if member.birthday_md is not None:
                item.birthday_md = member.birthday_md
                item.birthday_key = birthday_key(member.birthday_md, member.member_id)
            tx.save(item, condition=MemberItem.pk.does_not_exist())
            return
        actions = [
            MemberItem.identifiers.set([i.key for i in member.identifiers]),
            MemberItem.profile.set(_profile_map(member.profile)),
            MemberItem.consent.set(member.consent),
            _tags_action(member.tags),
            MemberItem.order_count.set(rfm.order_count),
            MemberItem.net_spent.set(rfm.net_spent),
            MemberItem.absorbed.set(member.absorbed),
            MemberItem.last_event_at.set(member.last_event_at),
            MemberItem.version.add(1),
            *_activity_actions(member.member_id, rfm),
            *_binding_actions(member.binding),
            *_first_pos_actions(member.first_pos_order),
            *_birthday_actions(member),
        ]
        if member.line is not None:
            actions.append(MemberItem.line.set(member.line.stored()))
        if member.email_bounced:  # a merge brings the absorbed member's bounced address along
            actions.append(MemberItem.email_bounced.set(member.email_bounced))
        tx.update(item, actions=actions, condition=(MemberItem.version == change.expected_version)
                  & (MemberItem.status == "live"))

    def _fast_update(self, tx: TransactWrite, change: MemberChange) -> None:
        """Known member, newest event: one conditional update with no prior read."""
        member = change.member
        at = member.last_event_at
        item = MemberItem(*member_key(member.member_id))
        actions = [MemberItem.last_event_at.set(at), MemberItem.version.add(1)]
        if change.count_delta:
            actions.append(MemberItem.order_count.add(change.count_delta))
        if change.net_delta:
            actions.append(MemberItem.net_spent.add(change.net_delta))
        if change.placed_at is not None:
            actions += [
                MemberItem.last_order_at.set(change.placed_at),
                MemberItem.last_order_day.set(order_day(change.placed_at)),
                MemberItem.first_order_at.set(MemberItem.first_order_at | change.placed_at),
                MemberItem.activity_shard.set(activity_shard(member.member_id)),
            ]
        for name, value in member.profile.items():
            actions.append(MemberItem.profile[name].set({"value": value.value, "source": value.source,
                                                         "at": value.at}))
        if member.birthday_md is not None:  # the newest event's birthday moves the ByBirthday key with it
            actions += _birthday_actions(member)
        for channel, value in member.consent.items():
            actions.append(MemberItem.consent[channel].set(value))
        if member.identifiers:
            actions.append(MemberItem.identifiers.set(
                MemberItem.identifiers.append([i.key for i in member.identifiers])))
        if member.line is not None:
            actions.append(MemberItem.line.set(member.line.stored()))
        condition = (MemberItem.status == "live") & (MemberItem.last_event_at <= at)
        if change.placed_at is not None:
            condition &= MemberItem.last_order_at.does_not_exist() | (MemberItem.last_order_at <= change.placed_at)
        if member.tags:
            # ADD to a string set keeps each tag once; a list from before goes the exact path once.
            actions.append(MemberItem.tags.add(set(member.tags)))
            condition &= MemberItem.tags.does_not_exist() | MemberItem.tags.is_type()
        first = member.first_pos_order
        if first is not None:
            # Kept when an earlier (or equal, smaller-store) one is stored; else the exact path decides.
            actions += [MemberItem.first_pos_order_at.set(MemberItem.first_pos_order_at | first.at),
                        MemberItem.first_pos_store_id.set(MemberItem.first_pos_store_id | first.store_id)]
            condition &= (MemberItem.first_pos_order_at.does_not_exist()
                          | (MemberItem.first_pos_order_at < first.at)
                          | ((MemberItem.first_pos_order_at == first.at)
                             & (MemberItem.first_pos_store_id <= first.store_id)))
        tx.update(item, actions=actions, condition=condition)

    def _write_absorbed(self, tx: TransactWrite, absorbed: Member, plan: WritePlan) -> None:
        survivor = plan.members[0].member.member_id
        item = MemberItem(*member_key(absorbed.member_id))
        tx.update(item, actions=[
            MemberItem.status.set("merged"),
            MemberItem.merged_into.set(survivor),
            MemberItem.version.add(1),
            MemberItem.activity_shard.remove(),
            MemberItem.last_order_day.remove(),
            MemberItem.bound_staff_id.remove(),
            MemberItem.bound_at.remove(),
            MemberItem.birthday_md.remove(),
            MemberItem.birthday_key.remove(),
        ], condition=(MemberItem.version == absorbed.version) & (MemberItem.status == "live"))

    def _repoint(self, tx: TransactWrite, identifier: Identifier, old: str, new: str, plan: WritePlan) -> None:
        item = IdentityItem(*identity_key(identifier))
        actions = [IdentityItem.member_id.set(new)]
        for record in plan.identity_updates:
            if record.identifier == identifier:
                actions += [IdentityItem.flagged.set(record.flagged),
                            IdentityItem.seen_members.set(sorted(record.seen_members))]
        tx.update(item, actions=actions, condition=IdentityItem.member_id == old)

    def commit_unmerge(self, record: MergeRecord, survivor: Member, absorbed: Member, remaining: Member,
                       restored: Member) -> None:
        """Undo one recorded merge in one transaction, conditioned on both members' versions."""
        remaining, unindexed = self._unmerge_tags(survivor, remaining, restored)
        room = (TRANSACTION_ITEMS - 3 - len(record.moved_identifiers)) // 2
        at = int(time.time() * 1000)
        try:
            with TransactWrite(connection=MemberItem._get_connection().connection) as tx:
                self._write_member(tx, MemberChange(member=remaining, expected_version=survivor.version))
                for tag in unindexed[:max(0, room)]:
                    grant_tag(tx, restored.member_id, tag, "unmerge", at)
                rfm = restored.rfm
                actions = [
                    MemberItem.status.set("live"), MemberItem.merged_into.remove(),
                    MemberItem.identifiers.set([i.key for i in restored.identifiers]),
                    MemberItem.profile.set(_profile_map(restored.profile)),
                    MemberItem.consent.set(restored.consent), _tags_action(restored.tags),
                    MemberItem.order_count.set(rfm.order_count), MemberItem.net_spent.set(rfm.net_spent),
                    MemberItem.absorbed.set(restored.absorbed), MemberItem.version.add(1),
                    *_activity_actions(restored.member_id, rfm), *_binding_actions(restored.binding),
                    *_first_pos_actions(restored.first_pos_order), *_birthday_actions(restored),
                ]
                tx.update(MemberItem(*member_key(restored.member_id)), actions=actions,
                          condition=(MemberItem.version == absorbed.version) & (MemberItem.status == "merged"))
                for identifier in record.moved_identifiers:
                    tx.update(IdentityItem(*identity_key(identifier)),
                              actions=[IdentityItem.member_id.set(restored.member_id)],
                              condition=IdentityItem.member_id == survivor.member_id)
                tx.update(MergeItem(f"MEMBER#{record.survivor_id}", f"MERGE#{record.merge_id}"),
                          actions=[MergeItem.status.set("unmerged")], condition=MergeItem.status == "merged")
        except TransactWriteError as exc:
            raise Conflict(str(exc.cause_response_code)) from exc

    @staticmethod
    def _unmerge_tags(survivor: Member, remaining: Member, restored: Member) -> tuple[Member, list[str]]:
        """The survivor also keeps the tags it earned since the merge (their provenance is under its own ids);
        the restored member's tags whose provenance is gone (removed from the merged member) get it back."""
        own = {i.tag for m in [remaining.member_id, *remaining.absorbed] for i in tag_items(m)}
        kept = [t for t in survivor.tags if t in remaining.tags or t in own]
        restored_own = {i.tag for m in [restored.member_id, *restored.absorbed] for i in tag_items(m)}
        return replace(remaining, tags=kept), [t for t in restored.tags if t not in restored_own]

    # ------------------------------------------------------------------ bindings, LINE status, consent
    def _update(self, member: Member, actions: list[Any]) -> None:
        try:
            MemberItem(*member_key(member.member_id)).update(
                actions=[*actions, MemberItem.version.add(1)],
                condition=(MemberItem.version == member.version) & (MemberItem.status == "live"))
        except UpdateError as exc:
            raise Conflict("the member changed concurrently") from exc

    def bind(self, member: Member, binding: Binding | None) -> None:
        """The member's new binding (None: unbound) and its history line, in one transaction."""
        previous = member.binding
        at = binding.bound_at if binding else datetime.now(tz=UTC)
        history = history_item(member.member_id, binding, previous, at)
        try:
            with TransactWrite(connection=MemberItem._get_connection().connection) as tx:
                tx.update(MemberItem(*member_key(member.member_id)),
                          actions=[*_binding_actions(binding), MemberItem.version.add(1)],
                          condition=(MemberItem.version == member.version) & (MemberItem.status == "live"))
                tx.save(history, condition=BindingHistoryItem.pk.does_not_exist())
        except TransactWriteError as exc:
            raise Conflict("the member changed concurrently") from exc

    def touch(self, member: Member, at: datetime) -> None:
        """Any message from a bound customer keeps the binding from expiring."""
        if member.binding is not None:
            self._update(member, [MemberItem.binding["last_interaction_at"].set(at.isoformat())])

    def set_line(self, member: Member, line: LineStatus) -> None:
        self._update(member, [MemberItem.line.set(line.stored())])

    def set_opt_out(self, member: Member, opted_out: bool) -> None:
        self._update(member, [MemberItem.opted_out.set(opted_out)])

    def _update_consent(self, member: Member, apply: Any) -> None:
        """``apply(member)`` gives the actions on the member as read (None: nothing to change); a concurrent
        writer's ``Conflict`` is retried once on the member read again (a merge leads to the survivor)."""
        for attempt in range(2):
            actions = apply(member)
            if not actions:
                return
            try:
                self._update(member, actions)
                return
            except Conflict:
                fresh = self.get_member(member.member_id) if attempt == 0 else None
                if fresh is None:
                    raise
                member = fresh

    def set_email_consent(self, member: Member, on: bool) -> None:
        """E-mail consent on or off (the other channels' consent as they are)."""
        def actions(current: Member) -> list[Any] | None:
            if current.consent.get("email") is on:
                return None
            return [MemberItem.consent.set({**current.consent, "email": on})]

        self._update_consent(member, actions)

    def suppress_email(self, member: Member, address: str) -> None:
        """SES reported ``address`` dead (a permanent bounce) or unwanted (a complaint): e-mail consent off and
        the address kept as bounced, in one write; a consent given later is not sent to this address."""
        def actions(current: Member) -> list[Any] | None:
            if current.consent.get("email") is False and current.email_bounced == address:
                return None
            return [MemberItem.consent.set({**current.consent, "email": False}),
                    MemberItem.email_bounced.set(address)]

        self._update_consent(member, actions)


def identity_from_raw(identifier: Identifier, raw: dict[str, Any]) -> IdentityRecord:
    item = IdentityItem.from_raw_data(raw)
    return IdentityRecord(identifier, item.member_id, bool(item.flagged), frozenset(item.seen_members or []))
