"""Properties of points and tiers over any sequence of orders, refunds, redeliveries, redemptions, time,
reviews and merges, through the service (an in-memory store with the same version conditions).

The invariant, checked after every step, for every account:

    pending + available = earned − redeemed − expired + shortfall,   every term ≥ 0

* ``earned`` is what each order earns on the net kept of the newest state delivered (whatever the
  delivery order, however often redelivered), at the rate fixed when the order first counted;
* ``redeemed`` is what redemptions took (each lot's ``used`` is exactly what redemptions took from it);
* ``expired`` is what expired (a refund of an expired order takes its points back from the expired ones);
* ``shortfall`` is what a refund's take-back could not find because the points were already redeemed:
  it grows only in a step that leaves the member without any points, and an order asking for more
  points than available leaves the member without available points.

And for tiers: after every order or redemption the tier is at least the one the spend qualifies for
(up at once), it only goes down at a review (default settings), and right after a review it is
exactly the qualifying tier.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st

from omo2c.core.errors import Conflict
from omo2c.core.settings import Settings
from omo2c.events import MemberMerged, MemberTierChanged, OrderRecorded
from omo2c.loyalty.model import LoyaltyAccount, LoyaltyPolicy, epoch_ms
from omo2c.loyalty.service import Loyalty
from tests.unit.loyalty.memory import MemoryLoyaltyStore

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
POLICY = LoyaltyPolicy.from_settings(Settings())
RATES = {t.points_rate for t in POLICY.tiers}



@st.composite
def order_history(draw: st.DrawFn) -> tuple[int, list[tuple[str, int, int]]]:
    """An order's states, newest last: placed (or still pending), then refunds, updates, a cancellation."""
    net = draw(st.integers(0, 25_000))
    points = draw(st.sampled_from([0, 0, 0, 20, 150]))
    states = [(draw(st.sampled_from(["open", "open", "pending"])), net, points)]
    for _ in range(draw(st.integers(0, 3))):
        change = draw(st.sampled_from(["refund", "refund", "update", "cancel"]))
        if change == "refund":
            net = draw(st.integers(0, net))
        elif change == "update":
            net = draw(st.integers(0, 25_000))
        states.append(("cancelled" if change == "cancel" else "open", net, points))
    return draw(st.integers(0, 120)), states


order_histories = st.lists(order_history(), min_size=1, max_size=6)
deliver = st.tuples(st.just("deliver"), st.integers(0, 5), st.integers(0, 3))
redeem = st.tuples(st.just("redeem"), st.integers(1, 80), st.integers(0, 4))
step = st.one_of(deliver, deliver, deliver, redeem, redeem, st.tuples(st.just("advance"), st.integers(0, 200)),
                 st.tuples(st.just("review")))


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Scenario:
    def __init__(self, members: tuple[str, ...] = ("m",), policy: LoyaltyPolicy = POLICY) -> None:
        self.store = MemoryLoyaltyStore(members)
        self.clock = Clock()
        self.published: list[MemberTierChanged] = []
        self.policy = policy
        self.loyalty = Loyalty(self.store, policy, self.published.extend, self.clock, sleep=lambda _: None)
        self.delivered: dict[tuple[str, str], int] = {}

    def event(self, member: str, index: int, history: tuple[int, list], version: int) -> OrderRecorded:
        day, states = history
        status, net, points = states[version - 1]
        return OrderRecorded(event_id=f"e{index}-{version}", event_type="order.updated", member_id=member,
                             source="pos", order_id=f"O{index}", channel="pos", total=net, net=net, net_kept=net,
                             status=status, placed_at=epoch_ms(T0 + timedelta(days=day)),
                             version=f"{version:08d}", points_redeemed=points, occurred_at=self.clock.now)

    def deliver(self, member: str, index: int, history: tuple[int, list], version: int) -> None:
        key = (member, f"pos#O{index}")
        self.loyalty.record(self.event(member, index, history, version))
        self.delivered[key] = max(self.delivered.get(key, 0), version)

    def account(self, member: str = "m") -> LoyaltyAccount:
        return self.store.accounts.get(member) or LoyaltyAccount(member)


def check_points(policy: LoyaltyPolicy, account: LoyaltyAccount, now: datetime) -> dict[str, int]:
    balance = policy.balance(account, now)
    assert min(balance.values()) >= 0, balance
    assert (balance["pending"] + balance["available"]
            == balance["earned"] - balance["redeemed"] - balance["expired"] + balance["shortfall"]), balance
    used: dict[str, int] = {}
    for redemption in account.redemptions.values():
        assert redemption.points >= redemption.applied >= 0
        for ref, n in redemption.allocation:
            assert n > 0
            used[ref] = used.get(ref, 0) + n
    for ref, lot in account.lots.items():
        assert min(lot.used, lot.expired, lot.taken, lot.short, lot.unspent, lot.earned) >= 0, lot
        assert lot.used == used.get(ref, 0)
        assert lot.rate in RATES
        assert lot.earned == policy.points_for(lot.net, lot.rate)
    return balance


def expected_net(history: tuple[int, list], version: int) -> Decimal:
    status, net, _ = history[1][version - 1]
    return Decimal(net) if status == "open" else Decimal(0)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories=order_histories, steps=st.lists(step, min_size=5, max_size=60))
def test_points_and_tiers_hold_at_every_step(histories, steps):
    s = Scenario()
    s.clock.now = T0 + timedelta(days=30)
    tier_before = None
    for action in steps:
        before = s.policy.balance(s.account(), s.clock.now) if s.store.accounts else None
        kept = s.account()
        if action[0] == "deliver":
            index = action[1] % len(histories)
            version = min(action[2] + 1, len(histories[index][1]))
            redelivery = s.delivered.get(("m", f"pos#O{index}"), 0) >= version
            s.deliver("m", index, histories[index], version)
            if redelivery:
                assert s.account() == kept
        elif action[0] == "redeem":
            try:
                s.loyalty.redeem("m", action[1], f"r{action[2]}")
            except Conflict:
                assert s.account() == kept
        elif action[0] == "advance":
            s.clock.now += timedelta(days=action[1])
        else:
            s.loyalty.review(s.clock.now)
        account, now = s.account(), s.clock.now
        if not s.store.accounts:
            continue
        balance = check_points(s.policy, account, now)
        if before is not None and balance["shortfall"] > before["shortfall"]:
            assert balance["pending"] + balance["available"] == 0
        if before is not None and balance["unredeemed"] > before["unredeemed"]:
            assert balance["available"] == 0
        for (_, ref), version in s.delivered.items():
            index = int(ref.removeprefix("pos#O"))
            lot = account.lots[ref]
            assert int(lot.version) == version and lot.net == expected_net(histories[index], version)
        start = epoch_ms(now - timedelta(days=365))
        assert s.policy.window_spend(account, now) == sum(
            (expected_net(histories[int(ref.removeprefix("pos#O"))], v) for (_, ref), v in s.delivered.items()
             if account.lots[ref].placed_at > start), Decimal(0))
        rank, qualifying = s.policy.rank(account.tier), s.policy.rank(s.policy.qualifying_tier(account, now).id)
        assert rank >= qualifying
        if action[0] == "review":
            assert rank == qualifying
        if tier_before is not None and action[0] != "review":
            assert rank >= s.policy.rank(tier_before)
        tier_before = account.tier
    for change in s.published:
        ranks = s.policy.rank(change.from_tier), s.policy.rank(change.to_tier)
        assert ranks[1] > ranks[0] if change.direction == "up" else ranks[1] < ranks[0]
        assert change.direction == "up" or change.order_ref is None
    final = s.policy.balance(s.account(), s.clock.now)
    for name in ("shortfall", "unredeemed", "expired", "redeemed"):
        event(f"{name} > 0: {final[name] > 0}")
    downgrades = sum(c.direction == "down" for c in s.published)
    event(f"downgraded at a review: {downgrades > 0}")
    target(float(final["shortfall"]), label="shortfall")
    target(float(downgrades), label="downgrades")


@settings(max_examples=150, deadline=None)
@given(histories=order_histories, order=st.permutations(list(range(24))), extra=st.lists(st.integers(0, 23)))
def test_any_delivery_order_with_redeliveries_ends_at_the_same_orders_and_spend(histories, order, extra):
    deliveries = [(i, v) for i, (_, states) in enumerate(histories) for v in range(1, len(states) + 1)]
    ends = []
    for sequence in (deliveries, [deliveries[k % len(deliveries)] for k in [*order, *extra]] + deliveries):
        s = Scenario()
        s.clock.now = T0 + timedelta(days=250)
        for index, version in sequence:
            s.deliver("m", index, histories[index], version)
        account = s.account()
        check_points(s.policy, account, s.clock.now)
        ends.append(({ref: (lot.version, lot.net) for ref, lot in account.lots.items()},
                     s.policy.window_spend(account, s.clock.now)))
    assert ends[0] == ends[1]


@settings(max_examples=150, deadline=None)
@given(first=order_histories, second=order_histories, shared=st.booleans(), steps=st.lists(step, max_size=20))
def test_a_merge_keeps_the_invariant_counts_shared_orders_once_and_never_lowers_a_tier(first, second, shared,
                                                                                      steps):
    s = Scenario(("s", "a"))
    s.clock.now = T0 + timedelta(days=20)
    for index, history in enumerate(first):
        s.deliver("s", index, history, len(history[1]))
    offset = 0 if shared else 100
    for index, history in enumerate(second):
        s.deliver("a", index + offset, history, len(history[1]))
    for action in steps:
        if action[0] == "redeem":
            with contextlib.suppress(Conflict):
                s.loyalty.redeem("a" if action[2] % 2 else "s", action[1], f"r{action[2]}")
    tiers = [s.policy.rank(s.account(m).tier) for m in ("s", "a")]
    survivor, absorbed = s.account("s"), s.account("a")
    s.store.merge_members("s", "a")
    merge = MemberMerged(survivor_id="s", absorbed_id="a", merge_id="mg1", event_id="e", occurred_at=s.clock.now)
    assert s.loyalty.merge(merge) == "merged"
    merged = s.account("s")
    check_points(s.policy, merged, s.clock.now)
    assert s.policy.rank(merged.tier) >= max(tiers)
    refs = set(survivor.lots) | set(absorbed.lots)
    assert set(merged.lots) == refs
    for ref in refs:
        mine, theirs = survivor.lots.get(ref), absorbed.lots.get(ref)
        newer = max((lot for lot in (mine, theirs) if lot), key=lambda lot: lot.version)
        assert merged.lots[ref].earned == newer.earned and merged.lots[ref].version == newer.version
    assert s.account("a").merged_into == "s" and s.account("a").lots == {}
    assert s.store.members["a"].tier is None
    snapshot = s.account("s")
    assert s.loyalty.merge(merge) == "already merged" and s.account("s") == snapshot
    s.deliver("a", offset, second[0], len(second[0][1]))
    assert s.account("s") == snapshot


@settings(max_examples=200, deadline=None)
@given(histories=order_histories, spend=st.floats(0, 1), refunds=st.permutations(list(range(24))))
def test_refunds_of_points_already_spent_take_back_what_remains_and_record_the_rest(histories, spend, refunds):
    s = Scenario()
    s.clock.now = T0 + timedelta(days=130)
    for index, history in enumerate(histories):
        s.deliver("m", index, history, 1)
    available = s.policy.balance(s.account(), s.clock.now)["available"]
    paid = int(available * spend)
    if paid:
        s.loyalty.redeem("m", paid, "paid")
    later = [(i, v) for i, (_, states) in enumerate(histories) for v in range(2, len(states) + 1)]
    for k in refunds:
        if later:
            index, version = later[k % len(later)]
            before = s.policy.balance(s.account(), s.clock.now)
            s.deliver("m", index, histories[index], version)
            after = check_points(s.policy, s.account(), s.clock.now)
            assert not paid or s.account().redemptions["paid"].applied == paid
            if after["shortfall"] > before["shortfall"]:
                assert after["pending"] + after["available"] == 0
    final = check_points(s.policy, s.account(), s.clock.now)
    event(f"shortfall > 0: {final['shortfall'] > 0}")
