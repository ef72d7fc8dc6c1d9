"""Resolve every incoming event to one member, on write.

The service reads a snapshot through the store port, decides with the rules in
:mod:`omo2c.members.model`, and commits one write plan atomically. Uniqueness of identifiers and
the order's version are guarded by the store's conditions; when a concurrent writer wins,
the whole decision is made again from a fresh snapshot.
"""

from __future__ import annotations

import random
import re
import time
import unicodedata
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Protocol

from omo2c.core.errors import Conflict
from omo2c.events import BusEvent, MemberCreated, MemberMerged, OrderRecorded
from omo2c.identity.identifiers import BlockList, Identifier, IdentifierKind, InvalidIdentifier, normalize
from omo2c.members.model import (
    BIRTHDAY,
    FirstPosOrder,
    LineStatus,
    Member,
    ProfileValue,
    choose_survivor,
    earliest,
    merge_consent,
    merge_profiles,
    update_consent,
)
from omo2c.orders.model import (
    OrderRecord,
    apply_cancel,
    apply_refunds,
    apply_snapshot,
    contribution_delta,
    order_rank,
)
from omo2c.sources.canonical import CanonicalEvent, EventType

MAX_ATTEMPTS = 12
TRANSACTION_ITEMS = 100  # DynamoDB's limit on one TransactWriteItems
TAGS_PER_EVENT = 30  # webhook and rule tags of one event: each is two items (provenance, audience) in the transaction
TAG_MAX_LENGTH = 40
# Lower-case ASCII letters and digits, ``:``, ``-``, ``_``, and CJK (ideographs, kana, bopomofo, hangul).
_SPACES = re.compile(r"\s+")
_TAG = re.compile(r"[a-z0-9:_\-\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")


class ResolutionFailed(RuntimeError):
    """The event could not be committed after repeated conflicts; the queue will retry it."""


@dataclass(frozen=True)
class IdentityRecord:
    identifier: Identifier
    member_id: str
    flagged: bool = False
    seen_members: frozenset[str] = frozenset()


@dataclass
class Snapshot:
    identities: dict[Identifier, IdentityRecord]
    order: OrderRecord | None
    duplicate_events: list[BusEvent] | None = None


@dataclass(frozen=True)
class TagGrant:
    """A tag the event gives its member, and where it came from (``webhook:<source>``, ``rule:<rule>``)."""

    tag: str
    source: str


def normal_tag(raw: str) -> str | None:
    """A tag's one spelling, or None when it cannot be a tag: ``VIP ``, ``vip`` and ``ｖｉｐ`` are one tag.

    Here rather than in ``omo2c.tags`` because the resolver needs it and areas depend one way."""
    text = unicodedata.normalize("NFKC", raw).strip().lower()
    return text if 0 < len(text) <= TAG_MAX_LENGTH and _TAG.fullmatch(text) else None


def event_tags(event: CanonicalEvent, rules: Mapping[str, str]) -> list[TagGrant]:
    """The webhook's own tags (inner spaces become ``-``), then the purchase rules' (``category:<item category>``
    → tag), each once, at most :data:`TAGS_PER_EVENT`; what still cannot be a tag is dropped (a webhook cannot be
    answered 422 from here)."""
    source = event.source or event.channel.value
    grants: dict[str, TagGrant] = {}
    for raw in event.customer.tags:
        tag = normal_tag(_SPACES.sub("-", raw.strip()))  # a Shopify "VIP Customer" is kept as vip-customer
        if tag is not None and tag not in grants:
            grants[tag] = TagGrant(tag, f"webhook:{source}")
    if rules and event.order is not None and event.type in (EventType.ORDER_CREATED, EventType.ORDER_UPDATED):
        wanted = {key.strip().lower(): (key, target) for key, target in rules.items()}
        for item in event.order.items:
            if not item.category:
                continue
            rule = wanted.get(f"category:{item.category.strip().lower()}")
            tag = normal_tag(rule[1]) if rule else None
            if rule and tag is not None and tag not in grants:
                grants[tag] = TagGrant(tag, f"rule:{rule[0]}")
    return list(grants.values())[:TAGS_PER_EVENT]


@dataclass
class MemberChange:
    """Changes to one live member; ``expected_version`` None means a brand-new member."""

    member: Member
    expected_version: int | None
    count_delta: int = 0
    net_delta: Decimal = Decimal(0)
    placed_at: int | None = None
    fast: bool = False


@dataclass
class MergeRecord:
    merge_id: str
    survivor_id: str
    absorbed_id: str
    at: int
    event_id: str
    reason: str
    moved_identifiers: list[Identifier]
    absorbed_before: Member
    survivor_before: Member
    status: str = "merged"


@dataclass
class WritePlan:
    event_key: str
    event_id: str
    at: int
    order: OrderRecord | None = None
    order_expected_version: int = 0
    members: list[MemberChange] = field(default_factory=list)
    absorbed: list[Member] = field(default_factory=list)
    new_identities: list[tuple[Identifier, str]] = field(default_factory=list)
    repointed: list[tuple[Identifier, str, str]] = field(default_factory=list)
    identity_updates: list[IdentityRecord] = field(default_factory=list)
    merges: list[MergeRecord] = field(default_factory=list)
    publish: list[BusEvent] = field(default_factory=list)
    blocked: list[Identifier] = field(default_factory=list)
    tags: list[TagGrant] = field(default_factory=list)

    def transaction_items(self) -> int:
        """How many items the store's one transaction writes for this plan (at most, never fewer)."""
        return (1 + len(self.members) + len(self.absorbed) + len(self.new_identities) + len(self.repointed)
                + len(self.identity_updates) + len(self.merges) + (self.order is not None) + 2 * len(self.tags))


class MemberStore(Protocol):
    def snapshot(self, identifiers: list[Identifier], order_key: tuple[str, str] | None,
                 event_key: str) -> Snapshot: ...

    def members(self, member_ids: set[str]) -> dict[str, Member]: ...

    def commit(self, plan: WritePlan) -> None: ...


@dataclass
class Outcome:
    member_id: str | None
    duplicate: bool = False
    created: bool = False
    merged: list[str] = field(default_factory=list)
    events: list[BusEvent] = field(default_factory=list)
    member: Member | None = None


@dataclass(frozen=True)
class Policy:
    blocklist: BlockList
    region: str = "TW"
    identifier_member_limit: int = 3
    tag_rules: Mapping[str, str] = field(default_factory=dict)


def extract_identifiers(event: CanonicalEvent, policy: Policy) -> tuple[list[Identifier], list[Identifier]]:
    """Usable identifiers, and the ones the block list keeps from matching."""
    customer = event.customer
    raw = [
        (IdentifierKind.PHONE, customer.phone, ""),
        (IdentifierKind.EMAIL, customer.email, ""),
        (IdentifierKind.LINE_USER, customer.line_user_id, ""),
        (IdentifierKind.POS_MEMBER, customer.pos_member_no, ""),
        (IdentifierKind.EC_CUSTOMER, customer.ec_customer_id, event.source or event.channel.value),
    ]
    usable: list[Identifier] = []
    blocked: list[Identifier] = []
    for kind, value, scope in raw:
        if not value:
            continue
        try:
            normal = normalize(kind, value, policy.region, scope)
        except InvalidIdentifier:
            if policy.blocklist.blocks(value):
                blocked.append(Identifier(kind, value.strip().lower()))
            continue
        identifier = Identifier(kind, normal)
        if policy.blocklist.blocks(value, normal):
            blocked.append(identifier)
        else:
            usable.append(identifier)
    return sorted(set(usable)), blocked


def _event_consent(event: CanonicalEvent) -> dict[str, bool]:
    consent = event.customer.consent
    if consent is None:
        return {}
    return {k: v for k, v in consent.model_dump().items() if v is not None}


def _event_profile(event: CanonicalEvent, at: int) -> dict[str, ProfileValue]:
    source = event.source or event.channel.value
    values = {"name": event.customer.name, BIRTHDAY: event.customer.birthday}
    return {name: ProfileValue(value, source, at) for name, value in values.items() if value}


def _event_pos_order(event: CanonicalEvent, at: int) -> FirstPosOrder | None:
    """A shop-counter sale with a store: a candidate for the member's first POS order (refunds and
    cancellations place nothing, so the earliest stays the same in any delivery order)."""
    if event.channel.value != "pos" or not event.store_id or event.order is None:
        return None
    if event.type not in (EventType.ORDER_CREATED, EventType.ORDER_UPDATED):
        return None
    return FirstPosOrder(at, event.store_id)


def _next_order(event: CanonicalEvent, current: OrderRecord | None, member_id: str | None,
                at: int) -> OrderRecord | None:
    order = event.order
    if order is None:
        return None
    source = event.source or event.channel.value
    base = current or OrderRecord(source=source, order_id=order.order_id, member_id=member_id,
                                  channel=event.channel.value, currency=order.currency)
    refunds = {r.refund_id: r.amount for r in order.refunds}
    if event.type in (EventType.ORDER_CREATED, EventType.ORDER_UPDATED):
        updated = apply_snapshot(
            base, rank=order_rank(order.version, at), occurred_ms=at, total=order.total or Decimal(0),
            discount=order.discount, shipping=order.shipping,
            items=[i.model_dump(mode="json") for i in order.items], store_id=event.store_id,
            staff_id=event.staff_id, referral_code=event.referral_code, currency=order.currency,
            member_id=member_id, coupons=tuple(order.coupons), points_redeemed=order.points_redeemed)
        updated = apply_refunds(updated, refunds)
    elif event.type is EventType.ORDER_REFUNDED:
        updated = apply_refunds(replace(base, member_id=base.member_id or member_id), refunds)
    else:
        updated = apply_cancel(replace(base, member_id=base.member_id or member_id))
    return replace(updated, updated_at=max(base.updated_at, at))


def _order_event(order: OrderRecord, member_id: str, event: CanonicalEvent, state_version: int) -> OrderRecorded:
    """``version`` counts the order's recorded states: a higher one is always the newer state."""
    return OrderRecorded(
        event_id=event.event_id, event_type=event.type.value, member_id=member_id, source=order.source,
        order_id=order.order_id, channel=order.channel, store_id=order.store_id, staff_id=order.staff_id,
        referral_code=order.referral_code, currency=order.currency, total=order.total, discount=order.discount,
        shipping=order.shipping, net=order.net, refunded=order.refunded, net_kept=order.net_kept,
        status=order.status, placed_at=order.placed_at, version=f"{state_version:08d}", snapshot_rank=order.rank,
        items=order.items, coupons=list(order.coupons), points_redeemed=order.points_redeemed,
        occurred_at=event.occurred_at)


class Resolver:
    """Records one canonical event: finds, creates or merges its member and updates the order."""

    def __init__(self, store: MemberStore, policy: Policy | Callable[[], Policy],
                 new_id: Callable[[], str] = lambda: uuid.uuid4().hex[:20],
                 sleep: Callable[[float], None] = time.sleep) -> None:
        """``policy`` may be a callable, so a changed block list (a new store phone) applies at once."""
        self.store = store
        self._policy = policy
        self.new_id = new_id
        self.sleep = sleep

    @property
    def policy(self) -> Policy:
        return self._policy() if callable(self._policy) else self._policy

    def record(self, event: CanonicalEvent, line: LineStatus | None = None) -> Outcome:
        """``line`` is the LINE status the Official Account saw with this event (follow, unfollow)."""
        policy = self.policy
        identifiers, blocked = extract_identifiers(event, policy)
        grants = event_tags(event, policy.tag_rules)
        source = event.source or event.channel.value
        event_key = f"{source}#{event.event_id}"
        order_key = (source, event.order.order_id) if event.order else None
        exact = False
        for attempt in range(MAX_ATTEMPTS):
            snap = self.store.snapshot(identifiers, order_key, event_key)
            if snap.duplicate_events is not None:
                return Outcome(member_id=None, duplicate=True, events=snap.duplicate_events)
            try:
                plan, outcome = self._plan(event, identifiers, blocked, snap, event_key, exact, line, grants)
                self.store.commit(plan)
                return outcome
            except Conflict:
                exact = True
                self.sleep(random.uniform(0, 0.02 * (attempt + 1)))  # noqa: S311 - jitter, not crypto
        raise ResolutionFailed(event_key)

    def _plan(self, event: CanonicalEvent, identifiers: list[Identifier], blocked: list[Identifier],
              snap: Snapshot, event_key: str, exact: bool, line: LineStatus | None,
              grants: list[TagGrant]) -> tuple[WritePlan, Outcome]:
        at = event.occurred_epoch_ms()
        plan = WritePlan(event_key=event_key, event_id=event.event_id, at=at)
        records = [snap.identities[i] for i in identifiers if i in snap.identities]
        usable = [r for r in records if not r.flagged]
        owners = {r.member_id for r in usable}
        if not owners and snap.order is not None and snap.order.member_id:
            owners = {snap.order.member_id}
        if len(owners) > 1:
            usable = self._apply_member_limit(usable, owners, plan)
            owners = {r.member_id for r in usable} or owners
        known = {r.identifier for r in records}
        fresh = [i for i in identifiers if i not in known]

        profile = _event_profile(event, at)
        consent = _event_consent(event)
        pos_order = _event_pos_order(event, at)
        tags = [g.tag for g in grants]
        outcome = Outcome(member_id=None)
        plan.blocked = blocked

        if not owners and not identifiers:
            return self._anonymous(event, snap, plan, outcome, at)
        plan.tags = grants
        if not owners:
            member = Member(member_id=self.new_id(), created_at=at, identifiers=list(identifiers),
                            profile=profile, consent=consent, tags=list(tags),
                            last_event_at=at, line=line, version=1, first_pos_order=pos_order)
            change = MemberChange(member=member, expected_version=None)
            outcome.member = member
            plan.new_identities = [(i, member.member_id) for i in identifiers]
            outcome.created = True
            plan.publish.append(MemberCreated(
                member_id=member.member_id, event_id=event.event_id, channel=event.channel.value,
                source=event.source, store_id=event.store_id, staff_id=event.staff_id, consent=consent,
                occurred_at=event.occurred_at))
        elif len(owners) == 1 and not exact:
            (member_id,) = owners
            member = Member(member_id=member_id, created_at=0, identifiers=fresh, profile=profile,
                            consent=consent, tags=list(tags), last_event_at=at,
                            line=line, first_pos_order=pos_order)
            change = MemberChange(member=member, expected_version=None, fast=True)
            plan.new_identities = [(i, member_id) for i in fresh]
        else:
            change = self._exact_change(event, owners, fresh, profile, consent, at, plan, outcome, tags)
            change.member.first_pos_order = earliest(change.member.first_pos_order, pos_order)
            if line is not None and at >= change.member.last_event_at:
                change.member.line = line

        member_id = change.member.member_id
        outcome.member_id = member_id
        order = _next_order(event, snap.order, member_id, at)
        if order is not None:
            order.member_id = order.member_id or member_id
            count, net, placed = contribution_delta(snap.order, order)
            change.count_delta, change.net_delta, change.placed_at = count, net, placed
            if not change.fast:
                change.member.rfm = change.member.rfm.with_order(placed, count, net)
            plan.order = order
            plan.order_expected_version = snap.order.version if snap.order else 0
            if snap.order is None or order != snap.order:
                plan.publish.append(_order_event(order, member_id, event, plan.order_expected_version + 1))
        plan.members.insert(0, change)
        _fit_tags(plan, change.member)
        outcome.events = plan.publish
        return plan, outcome

    def _anonymous(self, event: CanonicalEvent, snap: Snapshot, plan: WritePlan, outcome: Outcome,
                   at: int) -> tuple[WritePlan, Outcome]:
        """A walk-in with no usable identifier: the order is kept, no member is invented."""
        order = _next_order(event, snap.order, None, at)
        if order is not None:
            plan.order = order
            plan.order_expected_version = snap.order.version if snap.order else 0
            if snap.order is None or order != snap.order:
                plan.publish.append(_order_event(order, "", event, plan.order_expected_version + 1))
        outcome.events = plan.publish
        return plan, outcome

    def _apply_member_limit(self, usable: list[IdentityRecord], owners: set[str],
                            plan: WritePlan) -> list[IdentityRecord]:
        """An identifier linking more than N distinct members is flagged and stops matching."""
        kept = []
        for record in usable:
            seen = record.seen_members | owners
            flagged = len(seen) > self.policy.identifier_member_limit
            if seen != record.seen_members or flagged:
                plan.identity_updates.append(replace(record, seen_members=frozenset(seen), flagged=flagged))
            if not flagged:
                kept.append(record)
        return kept

    def _exact_change(self, event: CanonicalEvent, owners: set[str], fresh: list[Identifier],
                      profile: dict[str, ProfileValue], consent: dict[str, bool], at: int,
                      plan: WritePlan, outcome: Outcome, tags: list[str]) -> MemberChange:
        loaded = self.store.members(owners)
        live = {m.member_id: m for m in loaded.values() if m.live}
        if not live:
            raise Conflict("owners vanished")
        survivor = choose_survivor(list(live.values()))
        before = replace(survivor)
        merged = replace(survivor, identifiers=list(survivor.identifiers), absorbed=list(survivor.absorbed))
        for other in sorted(live.values(), key=lambda m: m.member_id):
            if other.member_id == survivor.member_id:
                continue
            merged = self._absorb(merged, other, before, event, at, plan)
            outcome.merged.append(other.member_id)
        if at >= merged.last_event_at:
            merged.consent = update_consent(merged.consent, consent)
        else:
            merged.consent = {**consent, **merged.consent}
        merged.profile = merge_profiles(merged.profile, profile)
        # Only tags new to the member get provenance: a tag it (or a member it absorbed) has keeps its first one.
        plan.tags = [g for g in plan.tags if g.tag not in merged.tags]
        merged.tags = list(dict.fromkeys([*merged.tags, *tags]))
        merged.identifiers = sorted(set(merged.identifiers) | set(fresh))
        merged.last_event_at = max(merged.last_event_at, at)
        plan.new_identities = [(i, survivor.member_id) for i in fresh]
        return MemberChange(member=merged, expected_version=survivor.version)

    def _absorb(self, survivor: Member, other: Member, survivor_before: Member, event: CanonicalEvent,
                at: int, plan: WritePlan) -> Member:
        merge_id = f"{at:015d}-{other.member_id}"
        plan.merges.append(MergeRecord(
            merge_id=merge_id, survivor_id=survivor.member_id, absorbed_id=other.member_id, at=at,
            event_id=event.event_id, reason="event carried identifiers of both members",
            moved_identifiers=list(other.identifiers), absorbed_before=other,
            survivor_before=survivor_before))
        plan.absorbed.append(other)
        plan.repointed.extend((i, other.member_id, survivor.member_id) for i in other.identifiers)
        plan.publish.append(MemberMerged(survivor_id=survivor.member_id, absorbed_id=other.member_id,
                                         merge_id=merge_id, event_id=event.event_id,
                                         occurred_at=event.occurred_at))
        binding = survivor.binding or other.binding
        return replace(
            survivor,
            identifiers=sorted(set(survivor.identifiers) | set(other.identifiers)),
            profile=merge_profiles(survivor.profile, other.profile),
            consent=merge_consent(survivor.consent, other.consent),
            tags=list(dict.fromkeys([*survivor.tags, *other.tags])),
            rfm=survivor.rfm.combined(other.rfm),
            absorbed=[*survivor.absorbed, other.member_id, *other.absorbed],
            last_event_at=max(survivor.last_event_at, other.last_event_at),
            line=survivor.line or other.line,
            binding=binding,
            first_pos_order=earliest(survivor.first_pos_order, other.first_pos_order),
            email_bounced=survivor.email_bounced or other.email_bounced,
        )


def _fit_tags(plan: WritePlan, member: Member) -> None:
    """Keep the transaction within DynamoDB's 100 items: tags that do not fit are left out of this event
    altogether (the member's set never holds a tag without its provenance and audience items)."""
    room = max(0, (TRANSACTION_ITEMS - plan.transaction_items() + 2 * len(plan.tags)) // 2)
    if len(plan.tags) <= room:
        return
    dropped = {g.tag for g in plan.tags[room:]}
    plan.tags = plan.tags[:room]
    member.tags = [t for t in member.tags if t not in dropped]


def unmerge_plan(record: MergeRecord, survivor: Member, absorbed: Member, at: int) -> tuple[Member, Member]:
    """Undo one recorded merge: the absorbed member comes back with what it brought."""
    moved = set(record.moved_identifiers)
    restored = replace(record.absorbed_before, status="live", merged_into=None,
                       version=absorbed.version, last_event_at=max(absorbed.last_event_at, at))
    remaining = replace(
        survivor,
        identifiers=[i for i in survivor.identifiers if i not in moved],
        rfm=survivor.rfm.without(record.absorbed_before.rfm),
        absorbed=[m for m in survivor.absorbed if m != record.absorbed_id
                  and m not in record.absorbed_before.absorbed],
        # The tags only the absorbed member brought leave with it (the store keeps any the survivor earned since).
        tags=[t for t in survivor.tags if t in record.survivor_before.tags or t not in record.absorbed_before.tags],
        profile=merge_profiles(record.survivor_before.profile,
                               {k: v for k, v in survivor.profile.items()
                                if v.at > record.at}),
        consent=dict(record.survivor_before.consent) | {
            k: v for k, v in survivor.consent.items() if k not in record.absorbed_before.consent},
        binding=record.survivor_before.binding if record.absorbed_before.binding == survivor.binding
        and record.survivor_before.binding != survivor.binding else survivor.binding,
        first_pos_order=record.survivor_before.first_pos_order
        if survivor.first_pos_order == record.absorbed_before.first_pos_order else survivor.first_pos_order,
    )
    return remaining, restored


def merge_to_undo(history: list[MergeRecord], merge_id: str | None) -> MergeRecord | None:
    """The named merge if it still stands, else the latest merge that does."""
    standing = [m for m in history if m.status == "merged"]
    if merge_id is not None:
        standing = [m for m in standing if m.merge_id == merge_id]
    return max(standing, key=lambda m: m.merge_id, default=None)
