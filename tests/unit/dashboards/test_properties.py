"""The rollups are exact: for any history of orders (several versions each: refunds, cancellations, pending
states, a later version naming another member or an earlier placing), member creations, bindings and
unbindings, merges, commission entries and conversions, delivered in any order, in batches of any size,
with any redeliveries and with concurrent writers cancelling transactions, the counters the consumer
keeps are exactly what :func:`recompute` makes of the final stored orders and members.

:func:`recompute` restates the definitions directly (an aggregation over the final facts), without the
model's states or deltas. Orders fall within 13 months, the window in which a member's spend history
moves with the member (older months are checked in test_model.py).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omo2c.dashboards.model import bucket, month_of, nonzero, shift
from omo2c.dashboards.service import Dashboards
from omo2c.events import (
    CampaignConverted,
    CommissionRecorded,
    MemberBound,
    MemberCreated,
    MemberMerged,
    MemberUnbound,
    OrderRecorded,
)
from tests.unit.dashboards.memory import MemoryDashboardStore

ZONE = ZoneInfo("Asia/Taipei")
START = datetime(2025, 12, 1, tzinfo=ZONE)
START_MS = int(START.timestamp() * 1000)
SPAN_MS = int((datetime(2026, 12, 31, 23, tzinfo=ZONE) - START).total_seconds() * 1000)
MONTHS = [shift("2025-12", n) for n in range(13)]
MEMBERS = ["m1", "m2", "m3", "m4"]
STORES = ["S1", "S2", "S3"]
STAFF = ["P1", "P2", "P3"]

times = st.integers(0, SPAN_MS).map(lambda ms: START_MS + ms)
some = st.sampled_from


def at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=ZONE)


@st.composite
def order_history(draw: st.DrawFn, n: int) -> list[OrderRecorded]:
    channel = draw(some(["pos", "ec"]))
    member = draw(some([*MEMBERS, None]))
    store, staff = draw(some([*STORES, None])), draw(some([*STAFF, None]))
    currency = draw(some(["TWD", "TWD", "TWD", "USD"]))
    placed, net = draw(times), draw(st.integers(0, 30_000))
    status = draw(some(["open", "open", "open", "pending"]))
    states = []
    for version in range(1, draw(st.integers(1, 4)) + 1):
        if version > 1:
            change = draw(some(["refund", "refund", "update", "cancel", "member", "earlier"]))
            if change == "refund":
                net = draw(st.integers(0, net))
            elif change == "update":
                net, status = draw(st.integers(0, 30_000)), "open" if status != "cancelled" else status
            elif change == "cancel":
                status = "cancelled"
            elif change == "member":
                member = draw(some(MEMBERS))
            else:
                placed = min(placed, draw(times))
        kept = Decimal(0) if status == "cancelled" else Decimal(net)
        states.append(OrderRecorded(
            event_id=f"o{n}-{version}", event_type="order.updated", member_id=member or "", source=channel,
            order_id=f"O{n}", channel=channel, store_id=store, staff_id=staff, currency=currency, total=net,
            net=net, net_kept=kept, status=status, placed_at=placed, version=f"{version:08d}",
            occurred_at=at(placed)))
    return states


@st.composite
def commission_entries(draw: st.DrawFn, order: OrderRecorded) -> list[CommissionRecorded]:
    entries = []
    for seq in range(1, draw(st.integers(0, 3)) + 1):
        kind = "sale" if seq == 1 else draw(some(["adjustment", "refund", "cancellation"]))
        base = draw(st.integers(1, 20_000)) * (1 if kind in ("sale", "adjustment") else -1)
        entries.append(CommissionRecorded(
            source=order.source, order_id=order.order_id, seq=seq, kind=kind, channel=order.channel,
            staff_id=draw(some([*STAFF, None])), store_id=draw(some([*STORES, None])), month=draw(some(MONTHS)),
            base=Decimal(base), currency=order.currency, at=at(draw(times))))
    return entries


@st.composite
def histories(draw: st.DrawFn) -> dict[str, list]:
    orders = [draw(order_history(n)) for n in range(draw(st.integers(1, 7)))]
    entries = [e for o in orders for e in draw(commission_entries(o[0]))]
    conversions = [CampaignConverted(
        campaign_id=draw(some(["C1", "C2"])), run_id="R1", member_id=o[0].member_id or "m1", source=o[0].source,
        order_id=o[0].order_id, store_id=draw(some([*STORES, None])), staff_id=draw(some([*STAFF, None])),
        revenue=Decimal(draw(st.integers(0, 9000))), currency="TWD", at=at(draw(times)))
        for o in orders if draw(st.booleans())]
    created = [MemberCreated(member_id=m, event_id=f"c-{m}-{k}", channel="pos", store_id=draw(some([*STORES, None])),
                             occurred_at=at(draw(times)))
               for m in MEMBERS for k in range(draw(some([0, 1, 1, 1, 2])))]
    bound, unbound = [], []
    for m in MEMBERS:
        for _ in range(draw(st.integers(0, 3))):
            when, staff = draw(times), draw(some([*STAFF, None]))
            bound.append(MemberBound(member_id=m, staff_id=staff, store_id=draw(some([*STORES, None])), via="qr",
                                     bound_at=at(when), policy_version="t"))
            if draw(st.booleans()):
                unbound.append(MemberUnbound(member_id=m, staff_id=draw(some(STAFF)), via="qr",
                                             at=at(when + draw(st.integers(-3, 3)) * 86_400_000)))
    merged = [MemberMerged(survivor_id="m1", absorbed_id=m, merge_id=f"mg-{m}", event_id=f"mg-{m}",
                           occurred_at=START) for m in MEMBERS[1:] if draw(st.integers(0, 3)) == 0]
    return {"orders": orders, "entries": entries, "conversions": conversions, "created": created, "bound": bound,
            "unbound": unbound, "merged": merged}


def recompute(h: dict[str, list]) -> dict:
    """The counters, straight from the definitions and the final facts."""
    out: dict = defaultdict(lambda: defaultdict(Decimal))

    def add(scopes, month, name, value=1):
        for scope in scopes:
            out[(scope, month)][name] += Decimal(value)

    def scopes(store, staff):
        return [f"store:{s}" for s in [store] if s] + [f"staff:{s}" for s in [staff] if s]

    def month(ms):
        return month_of(ms, ZONE)

    final = [max(states, key=lambda e: int(e.version)) for states in h["orders"]]
    bought = defaultdict(list)
    for order in final:
        if order.status != "open":
            continue
        if order.channel == "pos":
            add(scopes(order.store_id, order.staff_id), month(order.placed_at), "pos_orders")
            add(scopes(order.store_id, order.staff_id), month(order.placed_at), f"pos_amount_{order.currency}",
                order.net_kept)
        if order.member_id:
            bought[order.member_id].append((month(order.placed_at), order.channel, order.currency, order.net_kept))
    absorbed = {m.absorbed_id for m in h["merged"]}
    for member in MEMBERS:
        ms = lambda d: int(d.timestamp() * 1000)  # noqa: E731
        creations = sorted((ms(c.occurred_at), c.event_id, c.store_id) for c in h["created"] if c.member_id == member)
        bindings = [b for b in h["bound"] if b.member_id == member]
        homes = [(ms(b.bound_at), 1, b.store_id) for b in bindings if b.store_id]
        homes += [(creations[0][0], 0, creations[0][2])] if creations and creations[0][2] else []
        home = max(homes)[2] if homes else None
        newest = max(((ms(b.bound_at), b.staff_id or "") for b in bindings), default=None)
        staff = newest[1] if newest and newest[1] else None
        if staff and any(u.staff_id == staff and ms(u.at) > newest[0] for u in h["unbound"] if u.member_id == member):
            staff = None
        if member in absorbed or not (home or staff):
            continue
        where = scopes(home, staff)
        add(where, None, "members")
        add(where, None, "bound", 1 if staff else 0)
        if creations:
            add(where, None, f"joined_{month(creations[0][0]).replace('-', '')}")
        months = sorted(m for m, *_ in bought[member])
        if months:
            add(where, None, f"first_{months[0].replace('-', '')}")
            add(where, None, f"last_{months[-1].replace('-', '')}")
        pos = [m for m, channel, *_ in bought[member] if channel == "pos"]
        ec = [m for m, channel, *_ in bought[member] if channel == "ec"]
        if pos and ec:
            add(where, None, f"omo_{min(max(pos), max(ec)).replace('-', '')}")
        spend = defaultdict(Decimal)
        for m, _, currency, net in bought[member]:
            spend[(m, currency)] += net
        for (m, currency), amount in spend.items():
            if amount > 0:
                add(where, m, f"hist_{currency}_{bucket(amount):03d}_n")
                add(where, m, f"hist_{currency}_{bucket(amount):03d}_sum", amount)
    for b in {(b.member_id, b.bound_at, b.staff_id, b.store_id) for b in h["bound"]}:
        add(scopes(b[3], b[2]), month(int(b[1].timestamp() * 1000)), "new_bindings")
    for e in {(e.source, e.order_id, e.seq): e for e in h["entries"]}.values():
        if e.channel == "ec":
            add(scopes(e.store_id, e.staff_id), e.month, "ec_orders",
                1 if e.kind == "sale" else -1 if e.kind == "cancellation" else 0)
            add(scopes(e.store_id, e.staff_id), e.month, f"ec_amount_{e.currency}", e.base)
    for c in {(c.campaign_id, c.run_id, c.source, c.order_id): c for c in h["conversions"]}.values():
        add(scopes(c.store_id, c.staff_id), month(int(c.at.timestamp() * 1000)), "conversions")
        add(scopes(c.store_id, c.staff_id), month(int(c.at.timestamp() * 1000)), f"conversion_revenue_{c.currency}",
            c.revenue)
    return nonzero({k: dict(v) for k, v in out.items()})


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(histories(), st.randoms(use_true_random=False), st.integers(0, 12), st.lists(st.integers(1, 10), min_size=1),
       st.integers(0, 3))
def test_rollups_equal_a_recomputation_whatever_the_delivery(history, rnd, redeliveries, sizes, conflicts):
    events = [e for states in history["orders"] for e in states]
    events += [e for name in ("entries", "conversions", "created", "bound", "unbound", "merged") for e in history[name]]
    events += [rnd.choice(events) for _ in range(redeliveries)]
    rnd.shuffle(events)
    store = MemoryDashboardStore()
    store.fail_next_commits = conflicts
    dashboards = Dashboards(store, sleep=lambda _: None)
    position, turn = 0, 0
    while position < len(events):
        size = sizes[turn % len(sizes)]
        batch = events[position:position + size]
        failed = dashboards.record([(f"m{position + i}", e) for i, e in enumerate(batch)])
        assert failed == []
        position, turn = position + size, turn + 1
    assert store.figures() == recompute(history)


@settings(max_examples=60, deadline=None)
@given(histories(), st.randoms(use_true_random=False))
def test_a_concurrent_consumer_between_read_and_write_changes_nothing_but_the_retries(history, rnd):
    """Two consumers share the store: one applies half the events while the other is between its read and its
    write; the cancelled batch is read and folded again."""
    events = [e for states in history["orders"] for e in states]
    events += [e for name in ("entries", "created", "bound", "merged") for e in history[name]]
    rnd.shuffle(events)
    store = MemoryDashboardStore()
    first, second = Dashboards(store, sleep=lambda _: None), Dashboards(store, sleep=lambda _: None)
    half = len(events) // 2
    store.before_commit = lambda: second.record([(f"b{i}", e) for i, e in enumerate(events[half:])])
    assert first.record([(f"a{i}", e) for i, e in enumerate(events[:half])]) == []
    assert store.figures() == recompute({**history, "conversions": [], "unbound": []})


def test_a_member_moving_with_a_long_history_fits_a_transaction():
    """Thirteen months of spend move with a member at most: a batch of moves is split below 100 items."""
    store = MemoryDashboardStore()
    dashboards = Dashboards(store, sleep=lambda _: None)
    t0 = datetime(2026, 1, 10, tzinfo=ZONE)
    events = []
    for n in range(10):
        for k in range(20):
            when = t0 + timedelta(days=31 * k)
            events.append(OrderRecorded(
                event_id=f"e{n}-{k}", event_type="order.created", member_id=f"m{n}", source="pos", order_id=f"L{n}-{k}",
                channel="pos", store_id=f"S{n}", total=100 + k, net=100 + k, net_kept=100 + k, status="open",
                placed_at=int(when.timestamp() * 1000), version="00000001", occurred_at=when))
    created = [MemberCreated(member_id=f"m{n}", event_id=f"c{n}", channel="pos", store_id=f"S{n}", occurred_at=t0)
               for n in range(10)]
    for n in range(10):
        dashboards.record([(str(i), e) for i, e in enumerate([created[n], *events[n * 20:(n + 1) * 20]])])
    moves = [MemberBound(member_id=f"m{n}", staff_id="P99", store_id="S99", via="qr", bound_at=t0 + timedelta(days=900),
                         policy_version="t") for n in range(10)]
    commits = store.commits
    assert dashboards.record([(str(i), e) for i, e in enumerate(moves)]) == []
    assert store.commits - commits > 1 and store.largest <= 100
    def spend_months(scope):
        return {k[1] for k, counters in store.figures().items()
                if k[0] == scope and any(name.startswith("hist_") for name in counters)}

    assert spend_months("staff:P99") == spend_months("store:S99") == {shift("2026-08", n) for n in range(13)}
    assert spend_months("store:S3") == {shift("2026-01", n) for n in range(7)}, \
        "a month more than 12 before the last order stays where the member was when it left the window"
