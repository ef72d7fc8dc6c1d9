"""Tiers and points as plain rules: pure and deterministic given ``now``.

Every order is one *lot* of points on the member's account, keyed ``<source>#<order id>``. The lot
keeps the order version it reflects, so a redelivery or an older state changes nothing and a newer
state applies only its difference (like the commission ledger). A lot earns
``floor(net kept × rate ÷ points_per_amount)`` at the rate of the tier the member held when the order
first counted (the order that crosses a threshold still earns at the old rate); it is pending for
the holding period, then available, and whatever is left of it expires N months after the order.

Redemptions take available points, the lot expiring first first. A refund or cancellation takes
back what its order no longer earns: from the lot's own points left, then from the lot's own expired
points (they never should have existed, so they stop counting as expired), then from the member's
other points (expiring first first), and what still cannot be taken — points already redeemed — is
recorded on the lot as its ``short``. So, for every account, at every step:

    pending + available = earned − redeemed − expired + shortfall,   all of them ≥ 0

where ``earned`` is what every order earns on its latest net kept, ``redeemed`` the points
redemptions actually took, ``expired`` what expired, and ``shortfall`` (the take-backs that found
nothing left) grows only in a step that leaves the balance at 0.

Tiers go up at once, on the order (or merge) that qualifies for a higher one, and down only at the
review — or on a refund, when the setting says so.
"""

from __future__ import annotations

import calendar
import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from omo2c.core.errors import Conflict, InvalidEvent
from omo2c.core.settings import Settings
from omo2c.events import MemberTierChanged, OrderRecorded, from_stored

DAY_MS = 86_400_000
EXPIRING_SOON_DAYS = 30
RECENT_CHANGES = 20
ROLLING_DAYS = 365
WINDOWS = ("rolling_365", "calendar_year")


def epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def money(amount: Decimal) -> str:
    return f"NT${amount:,}"


def order_ref(source: str, order_id: str) -> str:
    return f"{source}#{order_id}"


class NotEnoughPoints(Conflict):
    """A redemption asked for more than the member has available: nothing was taken."""

    code = "not_enough_points"

    def __init__(self, available: int) -> None:
        super().__init__(f"only {available} points are available",
                         [{"field": "points", "problem": f"more than the {available} points available"}])
        self.available = available


@dataclass(frozen=True)
class Tier:
    id: str
    name: str
    min_spend: Decimal
    points_rate: Decimal
    benefits: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, raw: dict[str, Any]) -> Tier:
        return cls(str(raw["id"]), str(raw.get("name") or raw["id"]), Decimal(str(raw.get("min_spend", "0"))),
                   Decimal(str(raw.get("points_rate", "0"))), tuple(str(b) for b in raw.get("benefits") or ()))


@dataclass(frozen=True)
class OrderFacts:
    """What one recorded state of an order means to loyalty."""

    ref: str
    version: str
    status: str
    net_kept: Decimal
    placed_at: int
    points_redeemed: int = 0

    @classmethod
    def from_event(cls, event: OrderRecorded) -> OrderFacts:
        placed = event.placed_at if event.placed_at is not None else epoch_ms(event.occurred_at)
        return cls(order_ref(event.source, event.order_id), event.version, event.status, event.net_kept, placed,
                   event.points_redeemed)

    @property
    def counted(self) -> Decimal:
        """Spend that counts: what a paid, open order keeps (a pending or cancelled one counts nothing)."""
        return self.net_kept if self.status == "open" and self.net_kept > 0 else Decimal(0)


@dataclass
class Lot:
    """The points of one order: ``credited`` ever, less what was ``used`` by redemptions, ``expired``
    and ``taken`` back; ``earned`` is what the order earns now; ``short`` what a take-back of this
    order could not find."""

    order_ref: str
    version: str
    net: Decimal
    placed_at: int
    rate: Decimal
    earned: int
    credited: int
    available_at: int
    expires_at: int
    changed_at: int
    used: int = 0
    expired: int = 0
    taken: int = 0
    short: int = 0

    @property
    def unspent(self) -> int:
        return self.credited - self.used - self.expired - self.taken

    def status(self, at: int) -> str:
        if at >= self.expires_at:
            return "expired"
        return "pending" if at < self.available_at else "available"


@dataclass
class Redemption:
    """Points paid with, by order reference: ``points`` asked, ``allocation`` the (lot, points) taken, in order."""

    order_ref: str
    points: int
    allocation: list[tuple[str, int]]
    at: int
    via: Literal["api", "order"]
    version: str = ""

    @property
    def applied(self) -> int:
        return sum(n for _, n in self.allocation)

    @property
    def short(self) -> int:
        return self.points - self.applied


@dataclass
class LoyaltyAccount:
    """A member's loyalty: tier, lots, redemptions; ``merged_into`` once a merge moved it all away."""

    member_id: str
    tier: str | None = None
    tier_since: int | None = None
    lots: dict[str, Lot] = field(default_factory=dict)
    redemptions: dict[str, Redemption] = field(default_factory=dict)
    merges: list[str] = field(default_factory=list)
    merged_into: str | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    version: int = 0

    def spend_by_month(self, zone: ZoneInfo) -> dict[str, Decimal]:
        months: dict[str, Decimal] = {}
        for lot in self.lots.values():
            if lot.net:
                month = datetime.fromtimestamp(lot.placed_at / 1000, tz=zone).strftime("%Y-%m")
                months[month] = months.get(month, Decimal(0)) + lot.net
        return dict(sorted(months.items()))

    def changes_for(self, key: str) -> list[MemberTierChanged]:
        """The tier changes a step made, so a redelivered step can publish them again."""
        return [from_stored(c["event"]) for c in self.changes if c.get("key") == key]  # type: ignore[misc]


@dataclass(frozen=True)
class MemberFacts:
    """What loyalty reads of the member item: is it there, was it merged away, which tier it shows."""

    found: bool
    status: str = "live"
    merged_into: str | None = None
    tier: str | None = None
    tier_since: int | None = None


@dataclass(frozen=True)
class Holding:
    account: LoyaltyAccount | None
    member: MemberFacts

    @property
    def moved_to(self) -> str | None:
        """Where this member's loyalty lives now, when a merge made it another member's."""
        if self.account is not None and self.account.merged_into:
            return self.account.merged_into
        return self.member.merged_into if self.member.status == "merged" else None


@dataclass(frozen=True)
class TierMark:
    """The tier denormalised onto the member item; ``tier_id`` None takes it off (an absorbed member)."""

    member_id: str
    tier_id: str | None
    since: int | None = None


def order_key(order: OrderFacts) -> str:
    return f"order#{order.ref}#{order.version}"


def merge_key(merge_id: str) -> str:
    return f"merge#{merge_id}"


def review_key(at: int, zone: ZoneInfo) -> str:
    return "review#" + datetime.fromtimestamp(at / 1000, tz=zone).strftime("%Y-%m-%d")


def add_months(at: datetime, months: int) -> datetime:
    year, month = divmod(at.month - 1 + months, 12)
    year, month = at.year + year, month + 1
    return at.replace(year=year, month=month, day=min(at.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class LoyaltyPolicy:
    tiers: tuple[Tier, ...]
    window: str = "rolling_365"
    downgrade_on_refund: bool = False
    per_amount: Decimal = Decimal(100)
    holding_days: int = 7
    expiry_months: int = 12
    time_zone: str = "Asia/Taipei"

    def __post_init__(self) -> None:
        if not self.tiers:
            raise InvalidEvent("tiers: at least one tier is needed")
        if len({t.id for t in self.tiers}) != len(self.tiers):
            raise InvalidEvent("tiers: ids must be unique")
        if self.window not in WINDOWS:
            raise InvalidEvent(f"tier_window must be one of {', '.join(WINDOWS)}")
        if self.per_amount <= 0:
            raise InvalidEvent("points_per_amount must be positive")
        object.__setattr__(self, "tiers", tuple(sorted(self.tiers, key=lambda t: t.min_spend)))

    @classmethod
    def from_settings(cls, settings: Settings) -> LoyaltyPolicy:
        return cls(tuple(Tier.from_config(t) for t in settings.tiers), settings.tier_window,
                   settings.tier_review_downgrades_on_refund, Decimal(settings.points_per_amount),
                   settings.points_holding_days, settings.points_expiry_months, settings.time_zone)

    # ------------------------------------------------------------------ tiers
    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def base(self) -> Tier:
        return self.tiers[0]

    def tier(self, tier_id: str | None) -> Tier | None:
        return next((t for t in self.tiers if t.id == tier_id), None)

    def rank(self, tier_id: str | None) -> int:
        """A tier no longer configured ranks as the base, so the rules move the member to a configured one."""
        return next((i for i, t in enumerate(self.tiers) if t.id == tier_id), 0 if tier_id else -1)

    def held(self, account: LoyaltyAccount) -> Tier:
        return self.tier(account.tier) or self.base

    def next_tier(self, tier: Tier) -> Tier | None:
        index = self.tiers.index(tier)
        return self.tiers[index + 1] if index + 1 < len(self.tiers) else None

    def _year_spend(self, account: LoyaltyAccount, year: int) -> Decimal:
        zone = self.zone
        return sum((lot.net for lot in account.lots.values()
                    if datetime.fromtimestamp(lot.placed_at / 1000, tz=zone).year == year), Decimal(0))

    def window_spend(self, account: LoyaltyAccount, now: datetime) -> Decimal:
        """Net spend in the window: the last 365 days, or this calendar year in the brand's time zone."""
        if self.window == "calendar_year":
            return self._year_spend(account, now.astimezone(self.zone).year)
        start = epoch_ms(now - timedelta(days=ROLLING_DAYS))
        return sum((lot.net for lot in account.lots.values() if lot.placed_at > start), Decimal(0))

    def qualifying_spend(self, account: LoyaltyAccount, now: datetime) -> Decimal:
        """What keeps a tier: the window's spend; with calendar years a tier reached in one year holds
        through the next, so the better of this year and last."""
        if self.window == "calendar_year":
            year = now.astimezone(self.zone).year
            return max(self._year_spend(account, year), self._year_spend(account, year - 1))
        return self.window_spend(account, now)

    def qualifying_tier(self, account: LoyaltyAccount, now: datetime) -> Tier:
        spend = self.qualifying_spend(account, now)
        return [t for t in self.tiers if t.min_spend <= spend][-1] if spend >= self.base.min_spend else self.base

    # ------------------------------------------------------------------ points
    def points_for(self, net: Decimal, rate: Decimal) -> int:
        if net <= 0 or rate <= 0:
            return 0
        return int((net * rate / self.per_amount).to_integral_value(rounding=ROUND_FLOOR))

    def _new_lot(self, order: OrderFacts, rate: Decimal, at: int) -> Lot:
        placed = datetime.fromtimestamp(order.placed_at / 1000, tz=self.zone)
        earned = self.points_for(order.counted, rate)
        return Lot(order.ref, order.version, order.counted, order.placed_at, rate, earned, earned,
                   available_at=order.placed_at + self.holding_days * DAY_MS,
                   expires_at=epoch_ms(add_months(placed, self.expiry_months)), changed_at=at)

    @staticmethod
    def _sweep(account: LoyaltyAccount, at: int) -> None:
        """What is left of a lot past its expiry expires (oldest lots first, as they expire first)."""
        for lot in account.lots.values():
            if at >= lot.expires_at and lot.unspent > 0:
                lot.expired += lot.unspent

    @staticmethod
    def _spendable(account: LoyaltyAccount, at: int, pending_too: bool = False) -> list[Lot]:
        lots = [lot for lot in account.lots.values() if lot.unspent > 0 and at < lot.expires_at
                and (pending_too or at >= lot.available_at)]
        return sorted(lots, key=lambda lot: (lot.expires_at, lot.placed_at, lot.order_ref))

    def _allocate(self, account: LoyaltyAccount, redemption: Redemption, points: int, at: int) -> None:
        """Ask ``points`` more: taken from available lots, expiring first first; what is missing stays short."""
        redemption.points += points
        for lot in self._spendable(account, at):
            if points <= 0:
                break
            take = min(points, lot.unspent)
            lot.used += take
            points -= take
            redemption.allocation.append((lot.order_ref, take))

    @staticmethod
    def _release(account: LoyaltyAccount, redemption: Redemption, points: int) -> None:
        """Ask ``points`` less: the short part first, then back to the lots last taken from."""
        unpaid = min(points, redemption.short)
        redemption.points -= unpaid
        points -= unpaid
        while points > 0 and redemption.allocation:
            ref, taken = redemption.allocation[-1]
            back = min(points, taken)
            account.lots[ref].used -= back
            redemption.points -= back
            points -= back
            redemption.allocation[-1] = (ref, taken - back)
            if taken == back:
                redemption.allocation.pop()

    def _take_back(self, account: LoyaltyAccount, lot: Lot, points: int, at: int) -> None:
        """The order earns ``points`` less: see the module docstring for where they come from."""
        own = min(points, lot.unspent)
        lot.taken += own
        points -= own
        expired = min(points, lot.expired)
        lot.expired -= expired
        lot.taken += expired
        points -= expired
        for other in self._spendable(account, at, pending_too=True):
            if points <= 0:
                break
            take = min(points, other.unspent)
            other.taken += take
            points -= take
        lot.short += points

    @staticmethod
    def _redemption_target(redemption: Redemption | None, order: OrderFacts) -> int:
        """A cancelled order gives its points back; an order that names points is the truth; a redemption
        made through the API under this order's reference stays while the order names none."""
        if order.status == "cancelled":
            return 0
        if order.points_redeemed > 0:
            return order.points_redeemed
        return redemption.points if redemption is not None and redemption.via == "api" else 0

    def applied(self, account: LoyaltyAccount, order: OrderFacts) -> bool:
        lot = account.lots.get(order.ref)
        return lot is not None and lot.version >= order.version

    def record_order(self, account: LoyaltyAccount, order: OrderFacts,
                     now: datetime) -> tuple[LoyaltyAccount, list[MemberTierChanged]]:
        """Apply a newer state of one order (the caller checked :meth:`applied`)."""
        acc = copy.deepcopy(account)
        at = epoch_ms(now)
        self._sweep(acc, at)
        redemption = acc.redemptions.get(order.ref)
        target = self._redemption_target(redemption, order)
        if redemption is not None and target < redemption.points:
            self._release(acc, redemption, redemption.points - target)
        lot = acc.lots.get(order.ref)
        lowered = False
        if lot is None:
            lot = acc.lots[order.ref] = self._new_lot(order, self.held(acc).points_rate, at)
        else:
            earned = self.points_for(order.counted, lot.rate)
            lowered = order.counted < lot.net
            delta = earned - lot.earned
            lot.version, lot.net, lot.earned, lot.changed_at = order.version, order.counted, earned, at
            if delta > 0:
                lot.credited += delta
            elif delta < 0:
                self._take_back(acc, lot, -delta, at)
        if target > (redemption.points if redemption else 0):
            if redemption is None:
                redemption = acc.redemptions[order.ref] = Redemption(order.ref, 0, [], at, "order", order.version)
            self._allocate(acc, redemption, target - redemption.points, at)
        if redemption is not None:
            redemption.version = order.version
            if redemption.points == 0 and not redemption.allocation and redemption.via == "order":
                del acc.redemptions[order.ref]
        self._sweep(acc, at)
        return acc, self._tier_after_order(acc, order, lowered, now)

    def _tier_after_order(self, acc: LoyaltyAccount, order: OrderFacts, lowered: bool,
                          now: datetime) -> list[MemberTierChanged]:
        spend = self.window_spend(acc, now)
        qualifying = self.qualifying_tier(acc, now)
        key = order_key(order)
        if acc.tier is None:
            reason = f"first order {order.ref}; spend in the window {money(spend)}"
            return [self._change(acc, qualifying, "up", reason, spend, order.ref, key, now)]
        held = self.held(acc)
        if self.rank(qualifying.id) > self.rank(acc.tier):
            reason = (f"order {order.ref} brought spend in the window to {money(spend)}; "
                      f"{qualifying.name} starts at {money(qualifying.min_spend)}")
            return [self._change(acc, qualifying, "up", reason, spend, order.ref, key, now)]
        if self.downgrade_on_refund and lowered and self.rank(qualifying.id) < self.rank(acc.tier):
            reason = (f"refund of order {order.ref} brought spend in the window to {money(spend)}, "
                      f"below {held.name}'s {money(held.min_spend)}")
            return [self._change(acc, qualifying, "down", reason, spend, order.ref, key, now)]
        return []

    def _change(self, acc: LoyaltyAccount, to: Tier, direction: Literal["up", "down"], reason: str,
                spend: Decimal, ref: str | None, key: str, now: datetime) -> MemberTierChanged:
        event = MemberTierChanged(member_id=acc.member_id, from_tier=acc.tier, to_tier=to.id, direction=direction,
                                  reason=reason, spend_in_window=spend, order_ref=ref, at=now)
        acc.tier, acc.tier_since = to.id, epoch_ms(now)
        acc.changes = [*acc.changes, {"key": key, "event": event.stored()}][-RECENT_CHANGES:]
        return event

    def redeem(self, account: LoyaltyAccount, points: int, ref: str,
               now: datetime) -> tuple[LoyaltyAccount, Redemption, bool]:
        """Take ``points`` for ``ref`` (all or nothing); the same reference again is the same redemption.
        The third value says whether anything changed."""
        existing = account.redemptions.get(ref)
        if existing is not None:
            if existing.points != points:
                raise Conflict(f"order_ref {ref} already redeemed {existing.points} points",
                               [{"field": "order_ref", "problem": "already used for another amount"}])
            return account, existing, False
        acc = copy.deepcopy(account)
        at = epoch_ms(now)
        self._sweep(acc, at)
        available = sum(lot.unspent for lot in self._spendable(acc, at))
        if points > available:
            raise NotEnoughPoints(available)
        redemption = acc.redemptions[ref] = Redemption(ref, 0, [], at, "api")
        self._allocate(acc, redemption, points, at)
        return acc, redemption, True

    # ------------------------------------------------------------------ merges and the review
    def merge(self, survivor: LoyaltyAccount, absorbed: LoyaltyAccount, merge_id: str,
              now: datetime) -> tuple[LoyaltyAccount, LoyaltyAccount, list[MemberTierChanged]]:
        """Everything of ``absorbed`` moves to ``survivor``; an order both hold counts once, at its newer
        state. The survivor's tier never goes down here: the best of both tiers and what the spend reaches."""
        acc = copy.deepcopy(survivor)
        at = epoch_ms(now)
        moved = copy.deepcopy(absorbed)
        self._sweep(acc, at)
        self._sweep(moved, at)
        for ref, lot in moved.lots.items():
            mine = acc.lots.get(ref)
            if mine is None:
                acc.lots[ref] = lot
            else:
                self._combine_lots(acc, mine, lot, at)
        for ref, redemption in moved.redemptions.items():
            mine_r = acc.redemptions.get(ref)
            if mine_r is None:
                acc.redemptions[ref] = redemption
            else:
                self._combine_redemptions(acc, mine_r, redemption)
        acc.merges = [*acc.merges, merge_id]
        self._sweep(acc, at)
        best = max((self.qualifying_tier(acc, now), self.tier(acc.tier), self.tier(absorbed.tier)),
                   key=lambda t: self.rank(t.id) if t else -1)
        events = []
        if best is not None and (acc.tier is None or self.rank(best.id) > self.rank(acc.tier)):
            spend = self.window_spend(acc, now)
            reason = (f"merge {merge_id} with member {absorbed.member_id}: spend in the window {money(spend)}, "
                      f"tiers held {acc.tier or 'none'} and {absorbed.tier or 'none'}")
            events.append(self._change(acc, best, "up", reason, spend, None, merge_key(merge_id), now))
        tombstone = LoyaltyAccount(absorbed.member_id, merges=[*absorbed.merges, merge_id],
                                   merged_into=survivor.member_id, version=absorbed.version)
        return acc, tombstone, events

    def _combine_lots(self, acc: LoyaltyAccount, mine: Lot, theirs: Lot, at: int) -> None:
        newer, older = (theirs, mine) if theirs.version > mine.version else (mine, theirs)
        acc.lots[mine.order_ref] = combined = Lot(
            mine.order_ref, newer.version, newer.net, newer.placed_at, newer.rate, newer.earned,
            mine.credited + theirs.credited, min(mine.available_at, theirs.available_at),
            min(mine.expires_at, theirs.expires_at), max(mine.changed_at, theirs.changed_at),
            mine.used + theirs.used, mine.expired + theirs.expired, mine.taken + theirs.taken,
            mine.short + theirs.short)
        self._take_back(acc, combined, older.earned, at)

    def _combine_redemptions(self, acc: LoyaltyAccount, mine: Redemption, theirs: Redemption) -> None:
        newer, older = (theirs, mine) if theirs.version > mine.version else (mine, theirs)
        acc.redemptions[mine.order_ref] = combined = Redemption(
            mine.order_ref, mine.points + theirs.points, [*mine.allocation, *theirs.allocation],
            min(mine.at, theirs.at), newer.via, newer.version)
        self._release(acc, combined, older.points)

    def review(self, account: LoyaltyAccount, now: datetime) -> tuple[LoyaltyAccount, list[MemberTierChanged]]:
        """Down to the tier the spend still qualifies for; a member who qualifies keeps theirs."""
        held = self.tier(account.tier)
        qualifying = self.qualifying_tier(account, now)
        if held is None or self.rank(qualifying.id) >= self.rank(held.id):
            return account, []
        acc = copy.deepcopy(account)
        spend = self.qualifying_spend(acc, now)
        day = now.astimezone(self.zone).strftime("%Y-%m-%d")
        reason = f"review {day}: spend in the window {money(spend)} is below {held.name}'s {money(held.min_spend)}"
        return acc, [self._change(acc, qualifying, "down", reason, self.window_spend(acc, now), None,
                                  review_key(epoch_ms(now), self.zone), now)]

    # ------------------------------------------------------------------ what members and admins see
    def balance(self, account: LoyaltyAccount | None, now: datetime) -> dict[str, int]:
        acc = copy.deepcopy(account) if account is not None else LoyaltyAccount("")
        at = epoch_ms(now)
        self._sweep(acc, at)
        lots = list(acc.lots.values())
        soon = at + EXPIRING_SOON_DAYS * DAY_MS
        return {
            "pending": sum(lot.unspent for lot in lots if lot.status(at) == "pending"),
            "available": sum(lot.unspent for lot in lots if lot.status(at) == "available"),
            "expiring_soon": sum(lot.unspent for lot in lots
                                 if lot.status(at) == "available" and lot.expires_at <= soon),
            "expired": sum(lot.expired for lot in lots),
            "redeemed": sum(r.applied for r in acc.redemptions.values()),
            "earned": sum(lot.earned for lot in lots),
            "shortfall": sum(lot.short for lot in lots),
            "unredeemed": sum(r.short for r in acc.redemptions.values()),
        }

    def history(self, account: LoyaltyAccount | None, now: datetime) -> list[dict[str, Any]]:
        """Every lot's earning, take-back and expiry, and every redemption, oldest first."""
        if account is None:
            return []
        acc = copy.deepcopy(account)
        at = epoch_ms(now)
        self._sweep(acc, at)
        entries: list[tuple[int, int, dict[str, Any]]] = []

        def add(when: int, rank: int, kind: str, ref: str, points: int, status: str | None = None,
                short: int = 0, via: str | None = None) -> None:
            entries.append((when, rank, {"kind": kind, "order_ref": ref, "points": points, "at": iso(when),
                                         "status": status, "shortfall": short, "via": via}))

        for lot in acc.lots.values():
            add(lot.placed_at, 0, "earned", lot.order_ref, lot.credited, lot.status(at))
            if lot.credited > lot.earned:
                add(lot.changed_at, 1, "taken_back", lot.order_ref, lot.credited - lot.earned, short=lot.short)
            if lot.expired:
                add(lot.expires_at, 3, "expired", lot.order_ref, lot.expired)
        for redemption in acc.redemptions.values():
            add(redemption.at, 2, "redeemed", redemption.order_ref, redemption.applied, short=redemption.short,
                via=redemption.via)
        return [entry for _, _, entry in sorted(entries, key=lambda e: (e[0], e[1], e[2]["order_ref"]))]

    def summary(self, account: LoyaltyAccount | None, now: datetime) -> dict[str, Any] | None:
        """The member view's tier and points (others read this exact shape)."""
        if account is None or account.tier is None:
            return None
        tier = self.held(account)
        nxt = self.next_tier(tier)
        spend = self.window_spend(account, now)
        points = self.balance(account, now)
        return {
            "tier": {"id": tier.id, "name": tier.name, "since": iso(account.tier_since),
                     "spend_in_window": str(spend),
                     "next_tier": {"id": nxt.id, "name": nxt.name, "min_spend": str(nxt.min_spend)} if nxt else None,
                     "amount_to_next": str(max(Decimal(0), nxt.min_spend - spend)) if nxt else None,
                     "benefits": list(tier.benefits)},
            "points": {k: points[k] for k in ("available", "pending", "expiring_soon")},
        }
