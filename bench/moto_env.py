"""A moto account with the template's tables, for benchmarks that count requests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

TABLES = {"MembersTable": "bench-members", "LedgerTable": "bench-ledger", "CampaignsTable": "bench-campaigns",
          "IdempotencyTable": "bench-idempotency"}


@contextmanager
def moto_stack() -> Iterator[None]:
    env = {"AWS_DEFAULT_REGION": "ap-northeast-1", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "OMO_MEMBERS_TABLE": TABLES["MembersTable"], "OMO_LEDGER_TABLE": TABLES["LedgerTable"],
           "OMO_CAMPAIGNS_TABLE": TABLES["CampaignsTable"], "OMO_IDEMPOTENCY_TABLE": TABLES["IdempotencyTable"],
           "OMO_EVENT_BUS": "bench-bus", "POWERTOOLS_TRACE_DISABLED": "1", "POWERTOOLS_METRICS_DISABLED": "true",
           "LINE_CHANNEL_ACCESS_TOKEN": "bench", "LINE_CHANNEL_SECRET": "bench", "OMO_ADMIN_TOKEN": "bench"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
        saved[key] = os.environ.pop(key)
    from moto import mock_aws

    from infra.moto_speedups import install

    install()

    try:
        with mock_aws():
            import boto3

            from omo2c import wiring as services
            from tests.support.aws import create_tables

            create_tables(boto3.client("dynamodb"), TABLES)
            boto3.client("events").create_event_bus(Name="bench-bus")
            services.reset()
            yield
            services.reset()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
