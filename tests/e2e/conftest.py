"""Start `omo2c local` once for the end-to-end tests and talk to it over HTTP only."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from infra.journey import poll
from infra.local import free_port
from tests.support.log_scan import leaks

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LocalStack:
    url: str
    admin_token: str
    output: list[str] = field(default_factory=list)

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(f"{self.url}{path}", timeout=10, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return requests.post(f"{self.url}{path}", timeout=10, **kwargs)

    def wait_for(self, probe, timeout: float = 30.0):
        result = poll(probe, timeout)
        assert result, "timed out"
        return result


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    port = free_port()
    workdir = tmp_path_factory.mktemp("local-run")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OMO_", "LINE_", "POWERTOOLS_"))}
    env["PYTHONPATH"] = str(ROOT)
    process = subprocess.Popen([sys.executable, "-m", "infra.cli", "local", "--port", str(port)], cwd=workdir,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stack = LocalStack(f"http://127.0.0.1:{port}", "local-admin-token")
    ready = threading.Event()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            stack.output.append(line)
            if "local run ready at" in line:
                ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(60):
        process.kill()
        pytest.fail("omo2c local did not become ready:\n" + "".join(stack.output[-40:]))
    yield stack
    process.terminate()
    assert process.wait(timeout=20) == 0, "".join(stack.output[-40:])
    leaked = [line for line in stack.output if leaks(line)]
    assert not leaked, f"the local run logged raw phone numbers or emails: {leaked[:5]}"
