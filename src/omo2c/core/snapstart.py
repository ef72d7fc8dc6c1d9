"""SnapStart priming: what a function's first event would build is built before the snapshot instead of
after a restore — the heavy modules it imports, the services it composes (settings, stores, policies), the
botocore clients it calls (boto3's and pynamodb's, from the one shared session), and its secrets cache when
the secrets come from the environment.

Nothing here calls AWS: the docs advise against relying on network connections opened before a snapshot
(a restore may happen days later, on another host), and an SSM value cached at snapshot time would be
past its five-minute cache on restore anyway, so only the SSM provider (its client) is built. Outside Lambda
the hooks are only registered, never run, so tests and the local run keep loading on first use.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable
from typing import Any

from snapshot_restore_py import register_before_snapshot


def prime(*modules: str, composition: Callable[[], Any] | None = None, services: Iterable[str] = (),
          clients: Iterable[str] = (), secrets: Iterable[str] | Callable[[Any], Iterable[str]] = (),
          then: Iterable[Callable[[Any], Any]] = ()) -> None:
    """Before the snapshot: import ``modules``, build the ``services`` (attributes of what ``composition``
    returns: the handler's ``wiring.production``), the boto3 ``clients`` and the DynamoDB client of every
    table model loaded by then, read the ``secrets`` the first event would read, and call each of ``then``
    with the composition (what the handler itself builds on its first event, such as its idempotency store).
    ``secrets`` may be a function of the composition, for names that follow from settings."""
    services, clients, then = tuple(services), tuple(clients), tuple(then)

    def load() -> None:
        for name in modules:
            importlib.import_module(name)
        if composition is not None:
            production = composition()
            for step in then:
                step(production)
            names = tuple(secrets(production) if callable(secrets) else secrets)
            build(production, services, clients, names)

    register_before_snapshot(load)


def build(production: Any, services: tuple[str, ...], clients: tuple[str, ...], secrets: tuple[str, ...]) -> None:
    from omo2c.core import aws
    from omo2c.core.secrets import env_name

    for name in services:
        getattr(production, name)
    for service in clients:
        aws.client(service)
    if secrets and not all(os.environ.get(env_name(name)) for name in secrets):
        from aws_lambda_powertools.utilities.parameters import base, ssm

        base.DEFAULT_PROVIDERS.setdefault("ssm", ssm.SSMProvider(boto3_client=aws.client("ssm")))
    for name in secrets:
        if os.environ.get(env_name(name)):
            production.secrets.get(name)
    aws.table_clients()
