"""The local run's EventBridge Scheduler: fire the schedules stored in moto, and the template's own
ScheduleV2 events, at their times.

Schedules are created by the campaigns API exactly as in AWS (in the template's schedule
group, targeting the planner's ARN); this thread reads them back, evaluates their rate(),
cron() and at() expressions in their time zone, and invokes the target function the ARN
names with the schedule's input.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from infra.template import Names

log = logging.getLogger("local_run.scheduler")
MONTHS = {m: i for i, m in enumerate(["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV",
                                      "DEC"], start=1)}
DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], start=1)}
UNITS = {"minute": 60, "minutes": 60, "hour": 3600, "hours": 3600, "day": 86400, "days": 86400}


class UnsupportedExpression(ValueError):
    pass


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> set[int] | None:
    """A cron field as the set of values it allows (None: any)."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.upper().split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            a, b = part.split("-", 1)
            start, end = _value(a, names), _value(b, names)
        else:
            start = _value(part, names)
            end = high if step > 1 else start
        values.update(range(start, end + 1, step))
    return values


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text in names:
        return names[text]
    if not text.isdigit():
        raise UnsupportedExpression(f"cron value '{text}' is not supported locally")
    return int(text)


def next_fire(expression: str, zone: str, after: datetime) -> datetime | None:
    """The first moment strictly after ``after`` that the expression fires, or None."""
    tz = ZoneInfo(zone or "UTC")
    if match := re.fullmatch(r"rate\((\d+) (\w+)\)", expression):
        return after + timedelta(seconds=int(match.group(1)) * UNITS[match.group(2)])
    if match := re.fullmatch(r"at\(([0-9T:\-]+)\)", expression):
        moment = datetime.fromisoformat(match.group(1)).replace(tzinfo=tz)
        return moment if moment > after else None
    if not (match := re.fullmatch(r"cron\((.+)\)", expression)):
        raise UnsupportedExpression(expression)
    minutes, hours, dom, months, dow, years = match.group(1).split()
    allowed = (_field(minutes, 0, 59), _field(hours, 0, 23), _field(dom, 1, 31), _field(months, 1, 12, MONTHS),
               _field(dow, 1, 7, DAYS), _field(years, 1970, 2199))
    local = after.astimezone(tz).replace(second=0, microsecond=0) + timedelta(minutes=1)
    day = local.date()
    for _ in range(366 * 5):
        if _day_ok(day, allowed):
            for hour in range(24):
                if allowed[1] is not None and hour not in allowed[1]:
                    continue
                for minute in range(60):
                    if allowed[0] is not None and minute not in allowed[0]:
                        continue
                    candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
                    if candidate >= local:
                        return candidate
        day += timedelta(days=1)
    return None


def _day_ok(day: Any, allowed: tuple[set[int] | None, ...]) -> bool:
    _, _, dom, months, dow, years = allowed
    weekday = (day.isoweekday() % 7) + 1
    return ((dom is None or day.day in dom) and (months is None or day.month in months)
            and (dow is None or weekday in dow) and (years is None or day.year in years))


class LocalScheduler(threading.Thread):
    def __init__(self, host: Any, names: Names, stop: threading.Event, interval: float = 1.0) -> None:
        super().__init__(name="scheduler", daemon=True)
        self.host, self.names, self.stop, self.interval = host, names, stop, interval
        self.next: dict[tuple[str, str], datetime | None] = {}
        self.fired: list[tuple[str, str, datetime]] = []

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self.tick(datetime.now(tz=UTC))
            except Exception:
                log.exception("scheduler tick failed")

    def tick(self, now: datetime) -> int:
        from omo2c.core.aws import client

        scheduler = client("scheduler")
        fired = 0
        for group_id in self.names.template.schedule_groups:
            group = self.names.ref(group_id)
            for summary in scheduler.list_schedules(GroupName=group).get("Schedules", []):
                detail = scheduler.get_schedule(Name=summary["Name"], GroupName=group)
                key = (group, summary["Name"])
                if detail.get("State", "ENABLED") != "ENABLED":
                    continue
                expression, zone = detail["ScheduleExpression"], detail.get("ScheduleExpressionTimezone", "UTC")
                if key not in self.next:
                    created = detail.get("CreationDate") or now
                    self.next[key] = next_fire(expression, zone, min(created, now) if isinstance(created, datetime)
                                               else now)
                due = self.next[key]
                if due is None or due > now:
                    continue
                self._fire(detail, key, now)
                self.next[key] = next_fire(expression, zone, now)
                fired += 1
        return fired + self._tick_template(now)

    def _tick_template(self, now: datetime) -> int:
        """The template's own ScheduleV2 events (the journey runner, the tier review) fire here too, with the
        event EventBridge Scheduler sends a Lambda target."""
        fired = 0
        for logical_id, resource in self.names.template.raw["Resources"].items():
            for name, source in ((resource.get("Properties") or {}).get("Events") or {}).items():
                if source.get("Type") != "ScheduleV2":
                    continue
                props = source.get("Properties") or {}
                key = ("template", f"{logical_id}.{name}")
                expression, zone = props["ScheduleExpression"], props.get("ScheduleExpressionTimezone", "UTC")
                if key not in self.next:
                    self.next[key] = next_fire(expression, zone, now)
                due = self.next[key]
                if due is None or due > now:
                    continue
                self.fired.append((key[0], key[1], now))
                try:
                    self.host.invoke(logical_id, {
                        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                        "source": "aws.scheduler", "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "resources": [f"arn:aws:scheduler:::schedule/default/{logical_id}-{name}"], "detail": {}})
                except Exception:
                    log.exception("scheduled invocation of %s failed", logical_id)
                self.next[key] = next_fire(expression, zone, now)
                fired += 1
        return fired

    def _fire(self, detail: dict[str, Any], key: tuple[str, str], now: datetime) -> None:
        target = detail["Target"]
        function = self.names.function_for_arn(target["Arn"])
        if function is None:
            log.warning("schedule %s targets %s, which the template does not define", key[1], target["Arn"])
            return
        self.fired.append((key[0], key[1], now))
        try:
            self.host.invoke(function, json.loads(target.get("Input") or "{}"))
        except Exception:
            log.exception("scheduled invocation of %s failed", function)
