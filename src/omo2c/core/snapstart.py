"""SnapStart priming: heavy modules a function will need load before the snapshot, not on the
first event after a restore. Outside Lambda the hooks are only registered, never run, so tests
and the local run keep loading these modules on first use."""

from __future__ import annotations

import importlib

from snapshot_restore_py import register_before_snapshot


def prime(*modules: str) -> None:
    def load() -> None:
        for name in modules:
            importlib.import_module(name)

    register_before_snapshot(load)
