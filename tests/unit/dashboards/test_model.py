"""The dashboard derivations (NAPL, OMO share, top-20% share, trend) and the rules of the member state, by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from omo2c.access.model import Principal, Role
from omo2c.core.errors import Forbidden, InvalidEvent, NotFound
from omo2c.dashboards.model import (
    Fold,
    Rollups,
    amount_text,
    bucket,
    dashboard,
    month_bounds,
    napl,
    omo_share,
    plan,
    shift,
    top_share,
)
from omo2c.dashboards.service import Dashboards
from omo2c.events import MemberBound, MemberCreated, MemberMerged, MemberUnbound, OrderRecorded
from tests.unit.dashboards.memory import MemoryDashboardStore

ZONE = ZoneInfo("Asia/Taipei")
D = Decimal


def test_months_shift_and_bound_in_the_time_zone():
    assert shift("2026-12", 1) == "2027-01" and shift("2026-01", -1) == "2025-12" and shift("2026-05", -17) == "2024-12"
    start, end = month_bounds("2026-12", ZONE)
    assert datetime.fromtimestamp(start / 1000, tz=UTC) == datetime(2026, 11, 30, 16, tzinfo=UTC)
    assert datetime.fromtimestamp(end / 1000, tz=UTC) == datetime(2026, 12, 31, 16, tzinfo=UTC)


def test_buckets_are_geometric_and_amounts_plain_decimals():
    assert bucket(D("0.5")) == 0 and bucket(D(1)) == 1 and bucket(D(2)) == 5 and bucket(D(1024)) == 41
    assert bucket(D(1000)) < bucket(D(1200)) < bucket(D(2000))
    assert amount_text(D("1.2E+3")) == "1200" and amount_text(D("12.50")) == "12.5" and amount_text(D(0)) == "0"


TOTALS = {"members": D(8), "first_202612": D(1), "first_202610": D(1), "first_202601": D(3), "first_202501": D(1),
          "last_202612": D(2), "last_202611": D(1), "last_202609": D(1), "last_202607": D(1), "last_202606": D(1),
          "omo_202612": D(1), "omo_202512": D(1)}


def test_napl_from_first_and_last_order_months():
    """A, B first ordered within 3 months (new); C ordered in them since long (active); D, E last ordered 3-5
    months before (passive); F earlier (lost); two members never ordered (prospects)."""
    assert napl(TOTALS, "2026-12") == {"new": 2, "active": 1, "passive": 2, "lost": 1, "prospect": 2}
    assert napl(TOTALS, "2026-12", window=1)["new"] == 1


def test_omo_share_counts_both_channels_within_twelve_months():
    assert omo_share(TOTALS, "2026-12") == {"members_both_channels": 1, "members_with_orders": 6, "share": 0.1667}
    assert omo_share({}, "2026-12")["share"] is None


def hist(*buckets: tuple[int, int, int], currency: str = "TWD") -> dict[str, Decimal]:
    out = {}
    for index, n, total in buckets:
        out[f"hist_{currency}_{index:03d}_n"] = D(n)
        out[f"hist_{currency}_{index:03d}_sum"] = D(total)
    return out


def test_top_twenty_percent_takes_whole_buckets_then_the_crossing_one_at_its_mean():
    counters = hist((5, 10, 100), (10, 5, 500), (20, 1, 1000))
    assert top_share(counters) == {"share": 0.8125, "buyers": 16, "exact": False, "currency": "TWD"}
    assert top_share(hist((5, 4, 30), (20, 1, 1000))) == {"share": 0.9709, "buyers": 5, "exact": True,
                                                          "currency": "TWD"}
    assert top_share({}) == {"share": None, "buyers": 0, "exact": True, "currency": None}
    mixed = {**hist((5, 1, 10), currency="USD"), **hist((5, 2, 20), (9, 1, 90))}
    assert top_share(mixed)["currency"] == "TWD", "the currency with the most buyers"


def test_the_dashboard_document_and_its_six_month_trend():
    months = {shift("2026-12", -n): {} for n in range(6)}
    months["2026-12"] = {"pos_orders": D(2), "pos_amount_TWD": D(1500), "ec_orders": D(1), "ec_amount_TWD": D(600),
                         "new_bindings": D(3), "conversions": D(1), "conversion_revenue_TWD": D(600)}
    months["2026-08"] = {"pos_amount_TWD": D(90)}
    document = dashboard("store", "S01", "2026-12", Rollups(True, None, {**TOTALS, "bound": D(4),
                                                                         "joined_202612": D(2)}, months))
    assert document["members"] == {"new": 2, "total": 8} and document["bindings"] == {"bound_customers": 4, "new": 3}
    assert document["sales"] == {"pos": {"orders": 2, "amount": {"TWD": "1500"}},
                                 "ec_credited": {"orders": 1, "amount": {"TWD": "600"}}}
    assert document["campaigns"] == {"conversions": 1, "revenue": {"TWD": "600"}}
    assert [t["month"] for t in document["trend"]] == ["2026-07", "2026-08", "2026-09", "2026-10", "2026-11",
                                                       "2026-12"]
    assert document["trend"][1]["pos"] == {"TWD": "90"} and document["trend"][5]["new_members"] == 2


# ---------------------------------------------------------------------- member rules
T0 = datetime(2026, 10, 5, 2, tzinfo=UTC)


def order(order_id: str, member: str, net: int, when: datetime, version: int = 1, channel: str = "pos",
          status: str = "open") -> OrderRecorded:
    return OrderRecorded(event_id=f"{order_id}-{version}", event_type="order.updated", member_id=member, source=channel,
                         order_id=order_id, channel=channel, store_id="S01", staff_id="P01", total=net, net=net,
                         net_kept=net, status=status, placed_at=int(when.timestamp() * 1000),
                         version=f"{version:08d}", occurred_at=when)


def fold(*events) -> Fold:
    f = Fold({}, {}, ZONE)
    for event in events:
        f.apply(event)
    return f


def test_a_binding_moves_the_home_store_and_wins_a_tie_with_the_creation():
    created = MemberCreated(member_id="m", event_id="e", channel="pos", store_id="S01", occurred_at=T0)
    bound = MemberBound(member_id="m", staff_id="P02", store_id="S02", via="qr", bound_at=T0, policy_version="t")
    for events in ((created, bound), (bound, created)):
        state = fold(*events).members["m"]
        assert (state.home_store, state.staff) == ("S02", "P02")
    older = MemberBound(member_id="m", staff_id="P03", store_id="S03", via="qr", bound_at=T0 - timedelta(days=9),
                        policy_version="t")
    assert fold(created, older).members["m"].home_store == "S01", "the newer fact wins"


def test_a_rebinding_and_its_unbinding_at_the_same_time_leave_the_new_staff_member():
    first = MemberBound(member_id="m", staff_id="P01", via="qr", bound_at=T0, policy_version="t")
    later = T0 + timedelta(days=40)
    rebound = MemberBound(member_id="m", staff_id="P02", via="qr", bound_at=later, policy_version="t")
    unbound = MemberUnbound(member_id="m", staff_id="P01", via="qr", at=later)
    for events in ((first, unbound, rebound), (rebound, unbound, first), (unbound, first, rebound)):
        assert fold(*events).members["m"].staff == "P02"
    gone = MemberUnbound(member_id="m", staff_id="P01", via="transfer", at=later)
    assert fold(first, gone).members["m"].staff is None


def test_a_merged_member_leaves_its_scopes_but_its_orders_keep_counting_in_sales():
    events = [MemberCreated(member_id="m", event_id="e", channel="pos", store_id="S01", occurred_at=T0),
              order("A", "m", 500, T0)]
    before = fold(*events).deltas
    after = fold(*events, MemberMerged(survivor_id="s", absorbed_id="m", merge_id="x", event_id="x",
                                       occurred_at=T0)).deltas
    assert before[("store:S01", None)]["members"] == 1
    assert after.get(("store:S01", None), {}).get("members", 0) == 0
    assert after[("store:S01", "2026-10")]["pos_orders"] == 1
    assert after[("store:S01", "2026-10")].get("hist_TWD_036_n", 0) == 0


def test_a_refund_moves_the_member_to_another_bucket_and_a_cancellation_out_of_the_histogram():
    created = MemberCreated(member_id="m", event_id="e", channel="pos", store_id="S01", occurred_at=T0)
    counters = fold(created, order("A", "m", 5000, T0), order("A", "m", 100, T0, 2)).deltas[("store:S01", "2026-10")]
    assert {k: v for k, v in counters.items() if v} == {"pos_orders": 1, "pos_amount_TWD": 100,
                                                       f"hist_TWD_{bucket(D(100)):03d}_n": 1,
                                                       f"hist_TWD_{bucket(D(100)):03d}_sum": 100}
    gone = fold(created, order("A", "m", 5000, T0), order("A", "m", 0, T0, 3, status="cancelled"))
    assert not any(gone.deltas[("store:S01", "2026-10")].values())
    assert gone.members["m"].orders == {}


def test_an_older_version_after_a_newer_one_changes_nothing():
    f = fold(order("A", "m", 100, T0, 2))
    assert f.apply(order("A", "m", 999, T0, 1)) == "already applied"
    assert f.apply(order("A", "m", 100, T0, 2)) == "already applied"


def test_a_batch_of_ten_orders_is_one_chunk():
    events = [order(f"O{n}", f"m{n}", 100 * n, T0) for n in range(10)]
    chunks = plan(events, {}, {}, ZONE)
    assert len(chunks) == 1 and chunks[0].events == 10 and chunks[0].items <= 100


# ---------------------------------------------------------------------- who may see a dashboard
ADMIN = Principal(Role.ADMIN)
MANAGER = Principal(Role.MANAGER, "M01", "S01")
OTHER_MANAGER = Principal(Role.MANAGER, "M02", "S02")
STAFF = Principal(Role.STAFF, "P01", "S01")


@pytest.fixture
def dashboards():
    store = MemoryDashboardStore(stores=["S01", "S02"], staff={"P01": "S01", "P02": "S01", "P09": "S02"})
    return Dashboards(store, clock=lambda: datetime(2026, 12, 31, 17, tzinfo=UTC), sleep=lambda _: None)


def test_managers_see_their_store_and_its_staff_and_staff_themselves(dashboards):
    assert dashboards.store_kpis("S01", None, MANAGER)["month"] == "2027-01", "the month in the time zone"
    assert dashboards.staff_kpis("P02", "2026-12", MANAGER)["scope"] == "staff"
    assert dashboards.staff_kpis("P01", "2026-12", STAFF)["id"] == "P01"
    for call in (lambda: dashboards.store_kpis("S01", None, OTHER_MANAGER),
                 lambda: dashboards.store_kpis("S01", None, STAFF),
                 lambda: dashboards.staff_kpis("P02", None, STAFF),
                 lambda: dashboards.staff_kpis("P09", None, MANAGER),
                 lambda: dashboards.staff_kpis("P77", None, MANAGER)):
        with pytest.raises(Forbidden):
            call()


def test_an_unknown_store_or_staff_member_is_404_to_the_admin_and_a_bad_month_422(dashboards):
    with pytest.raises(NotFound):
        dashboards.store_kpis("S77", None, ADMIN)
    with pytest.raises(NotFound):
        dashboards.staff_kpis("P77", None, ADMIN)
    with pytest.raises(InvalidEvent):
        dashboards.store_kpis("S01", "2026-13", ADMIN)


def test_a_batch_that_keeps_conflicting_goes_one_event_at_a_time_and_only_a_failing_event_fails():
    store = MemoryDashboardStore()
    dashboards = Dashboards(store, sleep=lambda _: None)
    store.fail_next_commits = 4  # every attempt of the whole batch
    batch = [(f"m{n}", order(f"O{n}", f"m{n}", 100, T0)) for n in range(3)]
    assert dashboards.record(batch) == []
    assert store.figures()[("store:S01", "2026-10")]["pos_orders"] == 3

    class Broken(MemoryDashboardStore):
        def commit(self, chunk):
            if any(o.order_id == "BAD" for o in chunk.orders):
                raise ValueError("an item DynamoDB refuses")
            super().commit(chunk)

    broken = Broken()
    failed = Dashboards(broken, sleep=lambda _: None).record([("a", order("A", "m1", 100, T0)),
                                                             ("b", order("BAD", "m2", 100, T0)),
                                                             ("c", order("C", "m3", 100, T0))])
    assert failed == ["b"] and broken.figures()[("store:S01", "2026-10")]["pos_orders"] == 2
