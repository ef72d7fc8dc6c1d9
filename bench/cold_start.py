"""Cold start: median import time of each handler module in fresh processes, ÷ `import boto3`.

Both are measured in the same run with ``-X importtime`` (cumulative microseconds of the
top-level import), so the ratio is stable across machines even when absolute times are not.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

from infra.template import ROOT, load

RUNS = 7
FUNCTIONS = {
    "ingest": "IngestApiFunction",
    "ingest_worker": "IngestWorkerFunction",
    "bind": "LineWebhookFunction",
    "attribute": "AttributeFunction",
    "notify": "SendWorkerFunction",
}


def _handler(logical_id: str) -> tuple[Path, str]:
    function = load().functions[logical_id]
    return function.module_path.parent, function.module_path.stem


def import_micros(module: str, path: Path | None = None) -> int:
    setup = f"import sys; sys.path.insert(0, {str(path)!r}); " if path else ""
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", f"{setup}import {module}"],
                            capture_output=True, text=True, check=True, cwd=ROOT,
                            env={"PATH": "/usr/bin:/bin", "POWERTOOLS_TRACE_DISABLED": "1",
                                 "AWS_DEFAULT_REGION": "ap-northeast-1"})
    for line in reversed(result.stderr.splitlines()):
        parts = [p.strip() for p in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2] == module:
            return int(parts[1])
    raise RuntimeError(f"no importtime line for {module}")


def measure() -> dict[str, float]:
    results: dict[str, float] = {}
    boto3 = statistics.median(import_micros("boto3") for _ in range(RUNS))
    results["cold_start.boto3_import_ms"] = round(boto3 / 1000, 1)
    for name, logical_id in FUNCTIONS.items():
        path, module = _handler(logical_id)
        if not (path / f"{module}.py").exists():
            continue
        median = statistics.median(import_micros(module, path) for _ in range(RUNS))
        results[f"cold_start_ratio.{name}"] = round(median / boto3, 2)
        line = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(path)!r}); "
                               f"import {module}; print('linebot' in sys.modules)"],
                              capture_output=True, text=True, cwd=ROOT, check=True).stdout.strip()
        results[f"line_sdk_imported.{name}"] = line == "True"
    return results


if __name__ == "__main__":
    for key, value in measure().items():
        print(f"{key}: {value}")
