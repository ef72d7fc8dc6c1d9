"""Start `omo2c local` once for the end-to-end tests and talk to it over HTTP only."""

from __future__ import annotations

import os
import signal
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


class Run:
    """One `omo2c local` process started in ``workdir`` on free ports, with the environment of a fresh
    shell; ``stop`` sends SIGTERM as Ctrl-C would and checks that it exits cleanly."""

    def __init__(self, workdir: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OMO_", "LINE_", "POWERTOOLS_"))}
        env["PYTHONPATH"] = str(ROOT)
        env["OMO_QUIET_HOURS"] = "[]"  # triggered welcomes follow the stack's quiet hours; the tests run at any hour
        port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra.cli", "local", "--port", str(port), "--aws-port", str(free_port()), *args],
            cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.stack = LocalStack(f"http://127.0.0.1:{port}", "local-admin-token")
        self.ready_line = ""
        ready = threading.Event()

        def pump() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.stack.output.append(line)
                if "local run ready at" in line:
                    self.ready_line = line
                    ready.set()

        threading.Thread(target=pump, daemon=True).start()
        if not ready.wait(60):
            self.process.kill()
            pytest.fail("omo2c local did not become ready:\n" + "".join(self.stack.output[-40:]))

    def stop(self, timeout: float = 40) -> str:
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=timeout) == 0, "".join(self.stack.output[-40:])
        return "".join(self.stack.output)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    run = Run(tmp_path_factory.mktemp("local-run"))
    yield run.stack
    run.stop(timeout=20)
    leaked = [line for line in run.stack.output if leaks(line)]
    assert not leaked, f"the local run logged raw phone numbers or emails: {leaked[:5]}"


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (its own browser download cannot be reached here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()
