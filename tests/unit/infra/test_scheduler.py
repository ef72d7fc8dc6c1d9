"""The local scheduler evaluates EventBridge Scheduler expressions like AWS does."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from infra.scheduler import UnsupportedExpression, next_fire

TAIPEI = ZoneInfo("Asia/Taipei")


def test_daily_cron_in_taipei():
    after = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # 11:00 Taipei
    assert next_fire("cron(0 11 * * ? *)", "Asia/Taipei", after) == datetime(2026, 11, 25, 11, 0, tzinfo=TAIPEI)
    assert next_fire("cron(30 11 * * ? *)", "Asia/Taipei", after) == datetime(2026, 11, 24, 11, 30, tzinfo=TAIPEI)


def test_weekday_month_names_and_steps():
    after = datetime(2026, 11, 24, 0, 0, tzinfo=TAIPEI)  # a Tuesday
    assert next_fire("cron(0 10 ? * MON *)", "Asia/Taipei", after).date().isoformat() == "2026-11-30"
    assert next_fire("cron(0/15 * * * ? *)", "Asia/Taipei", after).minute == 15
    assert next_fire("cron(0 9 1 JAN ? *)", "Asia/Taipei", after).date().isoformat() == "2027-01-01"


def test_rate_and_at():
    after = datetime(2026, 11, 24, tzinfo=UTC)
    assert (next_fire("rate(2 hours)", "UTC", after) - after).total_seconds() == 7200
    assert next_fire("at(2026-12-01T10:00:00)", "Asia/Taipei", after) == datetime(2026, 12, 1, 10, tzinfo=TAIPEI)
    assert next_fire("at(2020-01-01T00:00:00)", "UTC", after) is None


def test_unsupported_cron_features_say_so():
    with pytest.raises(UnsupportedExpression):
        next_fire("cron(0 10 L * ? *)", "UTC", datetime(2026, 1, 1, tzinfo=UTC))
