"""``omo2c local --data-dir DIR``: the local run's data kept on disk across restarts.

moto keeps everything in memory. What a restart must not lose is saved to one JSON file,
``DIR/state.json``: every item of the template's DynamoDB tables (members, staff, stores,
campaigns, the ledger, idempotency records) and every EventBridge Scheduler schedule in the
template's schedule groups. :meth:`DataDir.restore` puts them back once the resources exist.

The file is written whole to a temporary name and renamed over the old one, so a crash
mid-save leaves the previous save intact. Tables are copied under moto's DynamoDB lock
(:data:`infra.moto_speedups.DYNAMODB_LOCK`), so a save never holds half a transaction.
Queues are not saved: the local run drains them on a graceful stop instead.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

from infra.moto_speedups import DYNAMODB_LOCK, dynamodb_writes
from infra.template import ACCOUNT, REGION, Names

STATE_FILE_NAME = "state.json"
FORMAT = 1
SAVE_EVERY_SECONDS = 1.0
SCHEDULE_FIELDS = ("ScheduleExpression", "ScheduleExpressionTimezone", "StartDate", "EndDate", "Description",
                   "State", "KmsKeyArn", "Target", "FlexibleTimeWindow", "ActionAfterCompletion")
log = logging.getLogger("local_run.data")


def _dynamodb() -> Any:
    """moto's DynamoDB backend: its server runs in this process, so tables can be copied directly."""
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT][REGION]


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot save {type(value).__name__}")


class DataDir:
    """Saves the local run's tables and schedules to ``path`` and restores them from there."""

    def __init__(self, path: str | Path, names: Names) -> None:
        self.path = Path(path)
        self.file = self.path / STATE_FILE_NAME
        self.names = names
        self._lock = threading.Lock()
        self._tables: dict[str, list[dict[str, Any]]] = {}
        self._tables_at: int | None = None
        self._saved = ""

    def restore(self) -> dict[str, int]:
        """Put back what the last save holds; how many items or schedules each table or group got."""
        if not self.file.exists():
            return {}
        state = json.loads(self.file.read_text())
        if state.get("format") != FORMAT:
            raise ValueError(f"{self.file} has format {state.get('format')}, this run reads {FORMAT}")
        template, counts = self.names.template, {}
        backend = _dynamodb()
        with DYNAMODB_LOCK:
            for logical_id, items in state["tables"].items():
                if logical_id not in template.tables:
                    log.warning("%s holds items of table %s, which the template no longer has", self.file, logical_id)
                    continue
                for item in items:
                    backend.put_item(self.names.ref(logical_id), item)
                counts[logical_id] = len(items)
        from omo2c.core.aws import client

        scheduler = client("scheduler")
        for group_id, schedules in state["schedules"].items():
            if group_id not in template.schedule_groups:
                log.warning("%s holds schedules of group %s, which the template no longer has", self.file, group_id)
                continue
            for schedule in schedules:
                scheduler.create_schedule(Name=schedule["Name"], GroupName=self.names.ref(group_id), **{
                    key: schedule[key] for key in SCHEDULE_FIELDS if schedule.get(key) is not None})
            counts[group_id] = len(schedules)
        return counts

    def snapshot(self) -> dict[str, Any]:
        """Everything to save; the tables are copied again only after DynamoDB served a write."""
        if self._tables_at != dynamodb_writes():
            backend = _dynamodb()
            with DYNAMODB_LOCK:
                self._tables_at = dynamodb_writes()
                self._tables = {logical_id: [item.to_json()["Attributes"]
                                             for item in backend.tables[self.names.ref(logical_id)].all_items()]
                                for logical_id in self.names.template.tables}
        return {"format": FORMAT, "tables": self._tables, "schedules": self._schedules()}

    def _schedules(self) -> dict[str, list[dict[str, Any]]]:
        from omo2c.core.aws import client

        scheduler = client("scheduler")
        saved = {}
        for group_id in self.names.template.schedule_groups:
            group = self.names.ref(group_id)
            names = sorted(summary["Name"] for page in scheduler.get_paginator("list_schedules").paginate(
                GroupName=group) for summary in page["Schedules"])
            saved[group_id] = [{key: detail[key] for key in ("Name", *SCHEDULE_FIELDS) if key in detail}
                               for detail in (scheduler.get_schedule(Name=name, GroupName=group) for name in names)]
        return saved

    def save(self) -> bool:
        """Write the snapshot if it differs from the last one written; whether it wrote."""
        with self._lock:
            text = json.dumps(self.snapshot(), ensure_ascii=False, sort_keys=True, default=_json_default)
            if text == self._saved:
                return False
            self.path.mkdir(parents=True, exist_ok=True)
            partial = self.file.with_name(f".{STATE_FILE_NAME}.partial")
            partial.write_text(text)
            os.replace(partial, self.file)
            self._saved = text
            return True


class Saver(threading.Thread):
    """Saves every ``every`` seconds when something changed, so a crash loses about that much."""

    def __init__(self, data: DataDir, stop: threading.Event, every: float = SAVE_EVERY_SECONDS) -> None:
        super().__init__(name="saver", daemon=True)
        self.data, self.stop, self.every = data, stop, every

    def run(self) -> None:
        while not self.stop.wait(self.every):
            try:
                self.data.save()
            except Exception:
                log.exception("saving the local run's data to %s failed", self.data.path)
