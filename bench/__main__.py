"""Run every benchmark, write bench/results.json (flat) and the table in bench/RESULTS.md.

    python -m bench            # all benchmarks
    python -m bench cold_start # one of them
"""

from __future__ import annotations

import importlib
import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["cold_start", "ddb_requests", "campaigns", "throughput", "cost_model", "console", "loyalty",
              "dashboards"]
TARGETS = {
    "cold_start_first_event_ratio.ingest.median": "≤ 2", "cold_start_first_event_ratio.ingest_worker.median": "≤ 2",
    "cold_start_first_event_ratio.attribute.median": "≤ 2", "cold_start_first_event_ratio.bind.median": "≤ 3",
    "local_events_per_second": "≥ 50", "local_throughput_events": "≥ 20000", "local_per_event_growth": "≤ 1.1",
    "local_failed_deliveries": "0",
    "ddb_requests.order_known_member": "≤ 2", "ddb_requests.order_merge": "≤ 4",
    "ddb_requests.line_follow": "≤ 3", "ddb_requests.line_binding": "≤ 3",
    "campaign_read_ratio.10k": "≤ 1.1", "campaign_read_ratio.100k": "≤ 1.1", "line_calls_per_1000": "≤ 2",
    "ddb_requests.customer_message": "≤ 5", "ddb_requests.staff_reply": "≤ 6",
    "console_first_load_kb": "< 100", "ddb_requests.order_loyalty": "≤ 2",
    "campaign_read_ratio.tag_100k": "≤ 1.1", "campaign_read_ratio.tier_100k": "≤ 1.1",
    "line_sdk_imported.ingest": "False", "line_sdk_imported.attribute": "False",
    "dashboard_read_requests.10k": "1", "dashboard_read_requests.100k": "1",
    "dashboard_write_requests_per_order.batch_of_10": "≤ 1",
}


def main(argv: list[str]) -> int:
    chosen = argv or BENCHMARKS
    results_path = HERE / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        print(f"== {name}", flush=True)
        for key, value in module.measure().items():
            print(f"   {key}: {value}")
            results[key] = value
    results["meta.measured_at"] = datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    results["meta.python"] = platform.python_version()
    results_path.write_text(json.dumps(dict(sorted(results.items())), indent=2) + "\n")
    rows = "\n".join(f"| `{k}` | {v} | {TARGETS.get(k, '')} |" for k, v in sorted(results.items()))
    (HERE / "RESULTS.md").write_text(
        "# Benchmark results\n\nWritten by `make bench` (`python -m bench`); ratios are measured within one run. "
        "See each module's docstring for what is counted and how.\n\n"
        "| figure | value | target |\n| --- | --- | --- |\n" + rows + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
