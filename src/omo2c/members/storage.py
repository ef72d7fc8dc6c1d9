"""The members repository: snapshots, atomic write plans and admin lookups over DynamoDB."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from omo2c.core.dynamo import EventItem, IdentityItem, MemberItem, MergeItem, OrderItem, configure
from omo2c.core.settings import Settings, get_settings
from omo2c.identity.identifiers import Identifier, IdentifierKind
from omo2c.members.model import NO_ORDER_DAY, Member, OrderRecord, ProfileValue, Rfm, activity_shard, ms_to_day
from omo2c.members.resolution import (
    Conflict,
    IdentityRecord,
    MemberChange,
    MergeRecord,
    Snapshot,
    WritePlan,
    unmerge_plan,
)

EVENT_MARKER_TTL_SECONDS = 90 * 86_400
MAX_POINTER_HOPS = 16


def member_key(member_id: str) -> tuple[str, str]:
    return f"MEMBER#{member_id}", "PROFILE"


def identity_key(identifier: Identifier) -> tuple[str, str]:
    return f"IDENT#{identifier.key}", "IDENT"


def order_key(source: str, order_id: str) -> tuple[str, str]:
    return f"ORDER#{source}#{order_id}", "ORDER"


def event_key(key: str) -> tuple[str, str]:
    return f"EVENT#{key}", "EVENT"


def parse_identifier(text: str) -> Identifier:
    kind, _, value = text.partition("#")
    return Identifier(IdentifierKind(kind), value)


def _plain(value: Any) -> Any:
    """pynamodb raw maps hand back MapAttribute objects; the domain wants plain dicts."""
    if hasattr(value, "as_dict"):
        return {k: _plain(v) for k, v in value.as_dict().items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def member_from_item(item: MemberItem) -> Member:
    profile = {
        name: ProfileValue(str(entry["value"]), str(entry.get("source", "")), int(entry.get("at", 0)))
        for name, entry in (_plain(item.profile) or {}).items()
    }
    return Member(
        member_id=item.member_id,
        created_at=int(item.created_at),
        status=item.status,
        merged_into=item.merged_into,
        identifiers=[parse_identifier(i) for i in item.identifiers or []],
        profile=profile,
        consent={k: bool(v) for k, v in (_plain(item.consent) or {}).items()},
        tags=list(item.tags or []),
        rfm=Rfm(
            int(item.first_order_at) if item.first_order_at is not None else None,
            int(item.last_order_at) if item.last_order_at is not None else None,
            int(item.order_count or 0),
            Decimal(item.net_spent or 0),
        ),
        absorbed=list(item.absorbed or []),
        last_event_at=int(item.last_event_at or 0),
        version=int(item.version or 0),
        line=_plain(item.line) or {},
        binding=_plain(item.binding) or {},
        opted_out=bool(item.opted_out),
    )


def member_to_dict(member: Member) -> dict[str, Any]:
    """Snapshot form kept on merge records."""
    return {
        "member_id": member.member_id, "created_at": member.created_at, "status": member.status,
        "identifiers": [i.key for i in member.identifiers],
        "profile": {k: {"value": v.value, "source": v.source, "at": v.at} for k, v in member.profile.items()},
        "consent": dict(member.consent), "tags": list(member.tags),
        "first_order_at": member.rfm.first_order_at, "last_order_at": member.rfm.last_order_at,
        "order_count": member.rfm.order_count, "net_spent": str(member.rfm.net_spent),
        "absorbed": list(member.absorbed), "last_event_at": member.last_event_at,
        "line": dict(member.line), "binding": dict(member.binding),
    }


def member_from_dict(data: dict[str, Any]) -> Member:
    item = MemberItem(*member_key(data["member_id"]))
    item.member_id = data["member_id"]
    item.created_at = data["created_at"]
    item.status = data.get("status", "live")
    item.identifiers = data.get("identifiers", [])
    item.profile = data.get("profile", {})
    item.consent = data.get("consent", {})
    item.tags = data.get("tags", [])
    item.first_order_at = data.get("first_order_at")
    item.last_order_at = data.get("last_order_at")
    item.order_count = data.get("order_count", 0)
    item.net_spent = Decimal(str(data.get("net_spent", "0")))
    item.absorbed = data.get("absorbed", [])
    item.last_event_at = data.get("last_event_at", 0)
    item.line = data.get("line") or None
    item.binding = data.get("binding") or None
    return member_from_item(item)


def order_from_item(item: OrderItem) -> OrderRecord:
    return OrderRecord(
        source=item.source, order_id=item.order_id, member_id=item.member_id, channel=item.channel,
        currency=item.currency, store_id=item.store_id, staff_id=item.staff_id,
        referral_code=item.referral_code, total=item.total, discount=item.discount,
        shipping=item.shipping,
        refunds={k: Decimal(str(v)) for k, v in (_plain(item.refunds) or {}).items()},
        status=item.status, placed_at=int(item.placed_at) if item.placed_at is not None else None,
        rank=item.rank, updated_at=int(item.updated_at or 0), items=_plain(item.items) or [],
        version=int(item.version or 0),
    )


def _order_item(order: OrderRecord) -> OrderItem:
    item = OrderItem(*order_key(order.source, order.order_id))
    item.source, item.order_id, item.member_id = order.source, order.order_id, order.member_id
    item.channel, item.currency = order.channel, order.currency
    item.store_id, item.staff_id, item.referral_code = order.store_id, order.staff_id, order.referral_code
    item.total, item.discount, item.shipping = order.total, order.discount, order.shipping
    item.refunds = {k: str(v) for k, v in order.refunds.items()}
    item.status, item.placed_at, item.rank = order.status, order.placed_at, order.rank
    item.updated_at, item.items, item.version = order.updated_at, order.items, order.version + 1
    return item


def _profile_map(profile: dict[str, ProfileValue]) -> dict[str, Any]:
    return {k: {"value": v.value, "source": v.source, "at": v.at} for k, v in profile.items()}


class DynamoMemberStore:
    """The store port of :class:`omo2c.members.resolution.Resolver`, plus the admin reads."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        configure(self.settings)

    # ------------------------------------------------------------------ reads
    def _client(self) -> Any:
        return MemberItem._get_connection().connection.client

    def _batch_get(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """One BatchGetItem across item types (pynamodb batches one model class at a time)."""
        table = self.settings.members_table
        pending = [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in dict.fromkeys(keys)]
        found: dict[tuple[str, str], dict[str, Any]] = {}
        attempt = 0
        while pending:
            response = self._client().batch_get_item(
                RequestItems={table: {"Keys": pending[:100], "ConsistentRead": True}})
            for raw in response.get("Responses", {}).get(table, []):
                found[(raw["pk"]["S"], raw["sk"]["S"])] = raw
            pending = pending[100:] + response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
            attempt += 1
            if pending and response.get("UnprocessedKeys"):
                time.sleep(min(1.0, 0.02 * 2 ** attempt))
        return found

    def snapshot(self, identifiers: list[Identifier], order: tuple[str, str] | None,
                 event: str) -> Snapshot:
        keys = [identity_key(i) for i in identifiers] + [event_key(event)]
        if order:
            keys.append(order_key(*order))
        found = self._batch_get(keys)
        marker = found.get(event_key(event))
        if marker is not None:
            return Snapshot({}, None, duplicate_events=_plain(EventItem.from_raw_data(marker).published) or [])
        identities = {}
        for identifier in identifiers:
            raw = found.get(identity_key(identifier))
            if raw is not None:
                item = IdentityItem.from_raw_data(raw)
                identities[identifier] = IdentityRecord(identifier, item.member_id, bool(item.flagged),
                                                        frozenset(item.seen_members or []))
        order_raw = found.get(order_key(*order)) if order else None
        return Snapshot(identities, order_from_item(OrderItem.from_raw_data(order_raw)) if order_raw else None)

    def members(self, member_ids: set[str]) -> dict[str, Member]:
        """Members by id, following merge pointers to the live survivor."""
        result: dict[str, Member] = {}
        wanted = set(member_ids)
        for _ in range(MAX_POINTER_HOPS):
            if not wanted:
                break
            found = self._batch_get([member_key(m) for m in sorted(wanted)])
            wanted = set()
            for raw in found.values():
                member = member_from_item(MemberItem.from_raw_data(raw))
                result[member.member_id] = member
                if not member.live and member.merged_into and member.merged_into not in result:
                    wanted.add(member.merged_into)
        return result

    def get_member(self, member_id: str) -> Member | None:
        """The live member behind an id (old ids of merged members lead to the survivor)."""
        current = member_id
        for _ in range(MAX_POINTER_HOPS):
            try:
                item = MemberItem.get(*member_key(current), consistent_read=True)
            except MemberItem.DoesNotExist:
                return None
            member = member_from_item(item)
            if member.live or not member.merged_into:
                return member
            current = member.merged_into
        return None

    def by_last_order_day(self, ranges: list[tuple[str, str]], shards: int) -> tuple[list[Member], int]:
        """Members whose last order day falls in the ranges, through the activity index; items read."""
        members: list[Member] = []
        read = 0
        for shard in range(shards):
            for low, high in ranges:
                condition = MemberItem.last_order_day.between(low, high)
                for item in MemberItem.by_last_order_day.query(f"A{shard}", condition):
                    read += 1
                    members.append(member_from_item(item))
        return members, read

    def find_by_identifier(self, identifier: Identifier) -> Member | None:
        try:
            item = IdentityItem.get(*identity_key(identifier), consistent_read=True)
        except IdentityItem.DoesNotExist:
            return None
        return self.get_member(item.member_id)

    def merge_history(self, member_id: str) -> list[MergeRecord]:
        items = MergeItem.query(f"MEMBER#{member_id}", MergeItem.sk.startswith("MERGE#"))
        return [self._merge_from_item(i) for i in items]

    @staticmethod
    def _merge_from_item(item: MergeItem) -> MergeRecord:
        return MergeRecord(
            merge_id=item.merge_id, survivor_id=item.survivor_id, absorbed_id=item.absorbed_id,
            at=int(item.at), event_id=item.event_id, reason=item.reason,
            moved_identifiers=[parse_identifier(i) for i in item.moved_identifiers or []],
            absorbed_before=member_from_dict(_plain(item.absorbed_before)),
            survivor_before=member_from_dict(_plain(item.survivor_before)),
            status=item.status,
        )

    # ------------------------------------------------------------------ writes
    def commit(self, plan: WritePlan) -> None:
        connection = MemberItem._get_connection().connection
        try:
            with TransactWrite(connection=connection) as tx:
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
                    tx.save(self._merge_item(merge), condition=MergeItem.pk.does_not_exist())
                if plan.order is not None:
                    self._write_order(tx, plan)
        except TransactWriteError as exc:
            raise Conflict(str(exc.cause_response_code)) from exc

    def _write_event_marker(self, tx: TransactWrite, plan: WritePlan) -> None:
        member_id = plan.members[0].member.member_id if plan.members else None
        marker = EventItem(*event_key(plan.event_key), event_id=plan.event_id,
                           recorded_at=int(time.time() * 1000), member_id=member_id,
                           published=plan.publish, blocked_identifiers=[i.key for i in plan.blocked],
                           expires_at=int(time.time()) + EVENT_MARKER_TTL_SECONDS)
        tx.save(marker, condition=EventItem.pk.does_not_exist())

    def _write_order(self, tx: TransactWrite, plan: WritePlan) -> None:
        order = plan.order
        assert order is not None
        item = _order_item(order)
        item.version = plan.order_expected_version + 1
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
        actions = [
            MemberItem.identifiers.set([i.key for i in member.identifiers]),
            MemberItem.profile.set(_profile_map(member.profile)),
            MemberItem.consent.set(member.consent),
            MemberItem.tags.set(member.tags),
            MemberItem.order_count.set(rfm.order_count),
            MemberItem.net_spent.set(rfm.net_spent),
            MemberItem.absorbed.set(member.absorbed),
            MemberItem.last_event_at.set(member.last_event_at),
            MemberItem.version.add(1),
        ]
        if rfm.first_order_at is not None and rfm.last_order_at is not None:
            actions += [
                MemberItem.first_order_at.set(rfm.first_order_at),
                MemberItem.last_order_at.set(rfm.last_order_at),
                MemberItem.last_order_day.set(ms_to_day(rfm.last_order_at)),
                MemberItem.activity_shard.set(activity_shard(member.member_id)),
            ]
        if change.expected_version is None:
            item.member_id, item.created_at, item.status = member.member_id, member.created_at, "live"
            item.identifiers = [i.key for i in member.identifiers]
            item.profile, item.consent, item.tags = _profile_map(member.profile), member.consent, member.tags
            item.order_count, item.net_spent = rfm.order_count, rfm.net_spent
            item.last_event_at, item.version = member.last_event_at, 1
            item.activity_shard = activity_shard(member.member_id)
            item.last_order_day = NO_ORDER_DAY
            if rfm.last_order_at is not None:
                item.first_order_at, item.last_order_at = rfm.first_order_at, rfm.last_order_at
                item.last_order_day = ms_to_day(rfm.last_order_at)
            tx.save(item, condition=MemberItem.pk.does_not_exist())
            return
        if member.binding:
            staff_id, store_id = member.binding.get("staff_id"), member.binding.get("store_id")
            actions += [
                MemberItem.binding.set(member.binding),
                MemberItem.bound_staff_id.set(str(staff_id)) if staff_id else MemberItem.bound_staff_id.remove(),
                MemberItem.bound_store_id.set(str(store_id)) if store_id else MemberItem.bound_store_id.remove(),
                MemberItem.bound_at.set(str(member.binding.get("bound_at") or "")),
            ]
        else:
            actions += [MemberItem.binding.remove(), MemberItem.bound_staff_id.remove(),
                        MemberItem.bound_store_id.remove(), MemberItem.bound_at.remove()]
        if member.line:
            actions.append(MemberItem.line.set(member.line))
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
                MemberItem.last_order_day.set(ms_to_day(change.placed_at)),
                MemberItem.first_order_at.set(MemberItem.first_order_at | change.placed_at),
                MemberItem.activity_shard.set(activity_shard(member.member_id)),
            ]
        for name, value in member.profile.items():
            actions.append(MemberItem.profile[name].set({"value": value.value, "source": value.source,
                                                         "at": value.at}))
        for channel, value in member.consent.items():
            actions.append(MemberItem.consent[channel].set(value))
        if member.identifiers:
            actions.append(MemberItem.identifiers.set(
                MemberItem.identifiers.append([i.key for i in member.identifiers])))
        if member.tags:
            actions.append(MemberItem.tags.set(MemberItem.tags.append(member.tags)))
        condition = (MemberItem.status == "live") & (MemberItem.last_event_at <= at)
        if change.placed_at is not None:
            condition &= MemberItem.last_order_at.does_not_exist() | (MemberItem.last_order_at <= change.placed_at)
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
        ], condition=(MemberItem.version == absorbed.version) & (MemberItem.status == "live"))

    def _repoint(self, tx: TransactWrite, identifier: Identifier, old: str, new: str, plan: WritePlan) -> None:
        item = IdentityItem(*identity_key(identifier))
        actions = [IdentityItem.member_id.set(new)]
        for record in plan.identity_updates:
            if record.identifier == identifier:
                actions += [IdentityItem.flagged.set(record.flagged),
                            IdentityItem.seen_members.set(sorted(record.seen_members))]
        tx.update(item, actions=actions, condition=IdentityItem.member_id == old)

    @staticmethod
    def _merge_item(merge: MergeRecord) -> MergeItem:
        return MergeItem(
            f"MEMBER#{merge.survivor_id}", f"MERGE#{merge.merge_id}", merge_id=merge.merge_id,
            survivor_id=merge.survivor_id, absorbed_id=merge.absorbed_id, at=merge.at,
            event_id=merge.event_id, reason=merge.reason, status=merge.status,
            moved_identifiers=[i.key for i in merge.moved_identifiers],
            absorbed_before=member_to_dict(merge.absorbed_before),
            survivor_before=member_to_dict(merge.survivor_before),
        )


    # ------------------------------------------------------------------ unmerge
    def unmerge(self, survivor_id: str, merge_id: str | None, at: int) -> tuple[MergeRecord, Member] | None:
        """Undo one recorded merge (the latest one when no id is given) in one transaction."""
        survivor = self.get_member(survivor_id)
        if survivor is None:
            return None
        history = [m for m in self.merge_history(survivor.member_id) if m.status == "merged"]
        if merge_id is not None:
            history = [m for m in history if m.merge_id == merge_id]
        if not history:
            return None
        record = max(history, key=lambda m: m.merge_id)
        absorbed_item = MemberItem.get(*member_key(record.absorbed_id), consistent_read=True)
        absorbed = member_from_item(absorbed_item)
        remaining, restored = unmerge_plan(record, survivor, absorbed, at)
        connection = MemberItem._get_connection().connection
        try:
            with TransactWrite(connection=connection) as tx:
                self._write_member(tx, MemberChange(member=remaining, expected_version=survivor.version))
                item = MemberItem(*member_key(restored.member_id))
                rfm = restored.rfm
                actions = [
                    MemberItem.status.set("live"), MemberItem.merged_into.remove(),
                    MemberItem.identifiers.set([i.key for i in restored.identifiers]),
                    MemberItem.profile.set(_profile_map(restored.profile)),
                    MemberItem.consent.set(restored.consent), MemberItem.tags.set(restored.tags),
                    MemberItem.order_count.set(rfm.order_count), MemberItem.net_spent.set(rfm.net_spent),
                    MemberItem.absorbed.set(restored.absorbed), MemberItem.version.add(1),
                ]
                binding = restored.binding or {}
                if binding.get("staff_id") and binding.get("bound_at"):
                    actions += [MemberItem.bound_staff_id.set(str(binding["staff_id"])),
                                MemberItem.bound_at.set(str(binding["bound_at"]))]
                if rfm.last_order_at is not None and rfm.first_order_at is not None:
                    actions += [MemberItem.first_order_at.set(rfm.first_order_at),
                                MemberItem.last_order_at.set(rfm.last_order_at),
                                MemberItem.last_order_day.set(ms_to_day(rfm.last_order_at)),
                                MemberItem.activity_shard.set(activity_shard(restored.member_id))]
                tx.update(item, actions=actions, condition=(MemberItem.version == absorbed.version)
                          & (MemberItem.status == "merged"))
                for identifier in record.moved_identifiers:
                    tx.update(IdentityItem(*identity_key(identifier)),
                              actions=[IdentityItem.member_id.set(restored.member_id)],
                              condition=IdentityItem.member_id == survivor.member_id)
                merge_item = MergeItem(f"MEMBER#{record.survivor_id}", f"MERGE#{record.merge_id}")
                tx.update(merge_item, actions=[MergeItem.status.set("unmerged")],
                          condition=MergeItem.status == "merged")
        except TransactWriteError as exc:
            raise Conflict(str(exc.cause_response_code)) from exc
        record.status = "unmerged"
        return record, restored

