"""Each handler that needs heavy modules registers them to load before the SnapStart snapshot."""

from __future__ import annotations

import subprocess
import sys

import pytest

from infra.template import ROOT

PROBE = """
import sys
from snapshot_restore_py import get_before_snapshot
from infra.handlers import load_handler
load_handler({function!r})
assert {module!r} not in sys.modules, "loaded at import already"
for hook, args, kwargs in get_before_snapshot():
    hook(*args, **kwargs)
assert {module!r} in sys.modules, "not loaded by the hooks"
"""



def run_fresh(code: str) -> None:
    """``code`` in a fresh interpreter with no AWS credentials: any AWS call in the hooks fails it."""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                            env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "ap-northeast-1"})
    assert result.returncode == 0, result.stderr[-800:]


@pytest.mark.parametrize(("function", "module"), [
    ("IngestWorkerFunction", "omo2c.members.storage"), ("AttributeFunction", "omo2c.attribution.storage"),
    ("LineWebhookFunction", "linebot.v3.messaging"), ("SendWorkerFunction", "linebot.v3.messaging"),
])
def test_before_snapshot_hooks_load_what_import_leaves_for_later(function, module):
    run_fresh(PROBE.format(function=function, module=module))


BUILT = """
from snapshot_restore_py import get_before_snapshot
from infra.handlers import load_handler
from omo2c.core import aws
load_handler({function!r})
assert aws.client.cache_info().currsize == 0, "a client was built at import"
for hook, args, kwargs in get_before_snapshot():
    hook(*args, **kwargs)
assert aws.client.cache_info().currsize >= 1, "the hooks built no client"
from omo2c import wiring
assert {service!r} in vars(wiring.production()), "the hooks did not compose the service"
"""


@pytest.mark.parametrize(("function", "service"), [
    ("IngestWorkerFunction", "resolver"), ("AttributeFunction", "commission_service"),
    ("SendWorkerFunction", "campaign_service"), ("IngestApiFunction", "ingest_queue"),
])
def test_before_snapshot_hooks_build_the_clients_and_services_of_the_first_event(function, service):
    run_fresh(BUILT.format(function=function, service=service))


IDEMPOTENCY = """
from snapshot_restore_py import get_before_snapshot
from infra.handlers import load_handler
module = load_handler("LineWebhookFunction")
assert not module._handlers
for hook, args, kwargs in get_before_snapshot():
    hook(*args, **kwargs)
assert module._handlers, "the hooks did not build the idempotency store"
"""


def test_the_line_webhooks_hooks_build_its_idempotency_store_without_calling_aws():
    run_fresh(IDEMPOTENCY)
