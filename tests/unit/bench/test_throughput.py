"""How bench/throughput.py reads the local run's progress and orders the in-process drain."""

from __future__ import annotations

import pytest

from bench.throughput import Progress, _deliveries, flow_order, per_event_ms
from infra.template import load


def test_per_event_time_of_the_first_and_last_window():
    # 4,000 events; deliveries grow 1:1 with events at 10 ms each, except the last 1,000 at 20 ms
    samples = [(t / 100, t) for t in range(0, 3001, 100)] + [(30 + t / 50, 3000 + t) for t in range(0, 1001, 100)]
    first, last = per_event_ms(samples, 4000)
    assert first == pytest.approx(10.0) and last == pytest.approx(20.0)


def test_progress_counts_deliveries_as_a_share_of_all_of_them():
    # twice as many deliveries as events (each event fans out): progress is still counted in events
    samples = [(0.0, 0), (5.0, 2000), (10.0, 4000)]
    assert per_event_ms(samples, 2000, window=1000) == pytest.approx((5.0, 5.0))


def test_drained_needs_empty_queues_and_no_delivery_since_the_last_look():
    answers = iter([
        {"stats": {"Q": {"delivered": 5, "failed": 0, "visible": 0, "in_flight": 1, "delayed": 0}}},
        {"stats": {"Q": {"delivered": 6, "failed": 0, "visible": 0, "in_flight": 0, "delayed": 0}}},
        {"stats": {"Q": {"delivered": 6, "failed": 0, "visible": 0, "in_flight": 0, "delayed": 0}}},
    ])
    progress = Progress(lambda: next(answers), started=0.0)
    assert [progress.drained(), progress.drained(), progress.drained()] == [False, False, True]


def test_the_in_process_drain_follows_the_bus():
    order = [queue for _, queue in flow_order(load())]
    assert order[0] == "IngestQueue"
    # loyalty publishes tier changes to notify; notify and attribute publish what dashboards count
    assert order.index("LoyaltyQueue") < order.index("NotifyEventsQueue") < order.index("DashboardsQueue")
    assert order.index("AttributeQueue") < order.index("DashboardsQueue")
    assert set(order) == {s.queue for f in load().functions.values() for s in f.queues}


def test_a_redelivered_event_goes_out_in_a_later_delivery():
    events = [{"event_id": e} for e in ["a", "b", "a", "c"]]
    assert [[e["event_id"] for e in batch] for batch in _deliveries(events, 100)] == [["a", "b"], ["a", "c"]]
