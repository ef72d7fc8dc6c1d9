"""boto3 clients, created lazily once per process (never at import, so tests can swap them)."""

from __future__ import annotations

from functools import cache
from typing import Any


@cache
def client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=2, read_timeout=5)
    return boto3.session.Session().client(service, config=config)


def reset_clients() -> None:
    client.cache_clear()
