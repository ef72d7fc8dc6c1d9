"""Dollars per million orders and per million campaign messages, from the measured counts.

Prices: AWS list prices for us-east-1 as published in November 2024 (after that month's
DynamoDB on-demand reduction), free tiers ignored, SMS excluded. Lambda time per invocation is
an assumption written down here (512 MB, 60 ms API, 30 ms per queued record), not a measurement:
the moto-backed local times say nothing about DynamoDB latency in AWS.
"""

from __future__ import annotations

import json
from pathlib import Path

PRICES_AS_OF = "2024-11 (us-east-1 list prices)"
LAMBDA_GB_SECOND = 0.0000166667
LAMBDA_REQUEST = 0.20 / 1e6
DDB_WRITE_UNIT = 0.625 / 1e6
DDB_READ_UNIT = 0.125 / 1e6
SQS_REQUEST = 0.40 / 1e6
EVENTBRIDGE_EVENT = 1.00 / 1e6
HTTP_API_REQUEST = 1.00 / 1e6
MEMORY_GB = 0.5
API_SECONDS = 0.060
RECORD_SECONDS = 0.030
BATCH = 10

RESULTS = Path(__file__).resolve().parent / "results.json"


def per_order(measured: dict[str, float]) -> dict[str, float]:
    """One POS/EC order of a known member: webhook, ingest worker, attribution, notify consumer."""
    invocations = 1 + 3 / BATCH
    seconds = API_SECONDS + 3 * RECORD_SECONDS
    write_units = measured.get("ddb_wcu.order_known_member", 6) + measured.get("ddb_wcu.attribution", 4)
    read_units = (measured.get("ddb_rcu.order_known_member", 1) + measured.get("ddb_rcu.attribution", 1)
                  + 1)  # the notify consumer's look at the member's recent sends
    # the ingest send, receive + delete per batch on three queues, and two rule deliveries
    sqs_requests = 1 / BATCH + 3 * (2 / BATCH) + 2
    events = 1.0  # order.recorded (member.created on first orders only)
    cost = (invocations * LAMBDA_REQUEST + seconds * MEMORY_GB * LAMBDA_GB_SECOND + write_units * DDB_WRITE_UNIT
            + read_units * DDB_READ_UNIT + sqs_requests * SQS_REQUEST + events * EVENTBRIDGE_EVENT
            + HTTP_API_REQUEST)
    return {"usd_per_million_orders": round(cost * 1e6, 2)}


def per_message(measured: dict[str, float]) -> dict[str, float]:
    """One campaign message on LINE: selection, a share of a multicast job, the send's bookkeeping."""
    requests = measured.get("ddb_requests.campaign_send", 3)
    write_units = 2  # claim + settle of the send record
    read_units = requests - write_units + measured.get("campaign_read_ratio.100k", 1.05) * 0.5
    sqs_requests = 3 / 500 + 3 / BATCH
    seconds = RECORD_SECONDS
    cost = (LAMBDA_REQUEST / BATCH + seconds * MEMORY_GB * LAMBDA_GB_SECOND + write_units * DDB_WRITE_UNIT
            + read_units * DDB_READ_UNIT + sqs_requests * SQS_REQUEST)
    return {"usd_per_million_campaign_messages": round(cost * 1e6, 2)}


def measure() -> dict[str, float | str]:
    measured = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    return {**per_order(measured), **per_message(measured), "cost_model.prices_as_of": PRICES_AS_OF}


if __name__ == "__main__":
    for key, value in measure().items():
        print(f"{key}: {value}")
