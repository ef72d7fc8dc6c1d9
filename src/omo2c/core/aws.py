"""boto3 clients, created lazily once per process (never at import, so tests can swap them).

Every client comes from one botocore session per thread (botocore sessions are not safe to create clients
from concurrently; a Lambda handler runs on one thread): a new session per client would reload the endpoint
data, rescan the service list and re-register the handlers each time, about as long as the client itself.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

_local = threading.local()
_lock = threading.Lock()
_generation = 0  # bumped by reset_clients: every thread's session is then built again, from the new environment


def session() -> Any:
    """This thread's boto3 session (one botocore session and data loader behind every client it creates)."""
    current = getattr(_local, "session", None)
    if current is None or current[0] != _generation:
        import boto3

        made = boto3.session.Session()
        made._session.register_component("data_loader", _loader(made._session.get_config_variable("data_path")))
        current = _local.session = (_generation, made)
    return current[1]


def _loader(data_path: str | None) -> Any:
    """botocore's loader, except that it finds a service's model by that service's own directory.

    botocore first lists every service it has a model for (hundreds of directories, stat'ed one by one:
    about a fifth of an `import boto3` on a cold start) only to check that the name asked for is among them.
    The service's own version directories answer the same question; an unknown name still gets
    botocore's own error, naming every known service."""
    import os

    from botocore.exceptions import DataNotFoundError
    from botocore.loaders import Loader, instance_cache

    class ServiceLoader(Loader):
        @instance_cache
        def load_service_model(self, service_name: str, type_name: str, api_version: str | None = None) -> Any:
            try:
                latest = self.determine_latest_version(service_name, type_name)
            except DataNotFoundError:
                return super().load_service_model(service_name, type_name, api_version)
            version = api_version or latest
            model = self.load_data(os.path.join(service_name, version, type_name))
            self._extras_processor.process(model, self._find_extras(service_name, type_name, version))
            return model

    paths = [os.path.expanduser(os.path.expandvars(p)) for p in data_path.split(os.pathsep)] if data_path else None
    return ServiceLoader(extra_search_paths=paths)


@cache
def client(service: str) -> Any:
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=2, read_timeout=5)
    with _lock:  # clients are thread-safe once built; building two at once from sessions is not worth racing
        return session().client(service, config=config)


def reset_clients() -> None:
    global _generation
    client.cache_clear()
    _generation += 1


def share_session_with_pynamodb() -> None:
    """pynamodb starts a botocore session of its own for every model's connection, each reloading the endpoint
    data and the DynamoDB model (about one `import boto3` apiece on a cold start): give it the thread's one."""
    from pynamodb.connection import base

    if getattr(base.get_session, "__module__", "") != __name__:
        def shared() -> Any:
            return session()._session

        base.get_session = shared


def table_clients() -> None:
    """The botocore client behind each loaded pynamodb model, built now from this thread's session (no request
    is made): for the SnapStart hooks, so that a restore's first event finds them."""
    import sys

    if "pynamodb.models" not in sys.modules:
        return
    from pynamodb.models import Model

    share_session_with_pynamodb()

    pending, seen = list(Model.__subclasses__()), set()
    while pending:
        model = pending.pop()
        if model in seen:
            continue
        seen.add(model)
        pending.extend(model.__subclasses__())
        if not getattr(getattr(model, "Meta", None), "table_name", None):
            continue
        model._get_connection().connection.client  # noqa: B018 - builds it
