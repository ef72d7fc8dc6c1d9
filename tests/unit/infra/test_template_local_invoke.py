"""`sam local invoke` where Docker exists: events/env.json, `omo2c sign` and the AWS port agree with the template."""

from __future__ import annotations

import json
import os
import socket
from contextlib import closing

import pytest

from infra import cli
from infra.moto_stack import LOCAL_SECRETS, in_process
from infra.template import ROOT, load

ENV_JSON = ROOT / "events" / "env.json"
EVENTS = ROOT / "events"


def test_env_json_sets_only_functions_and_variables_the_template_declares():
    """SAM ignores what the template does not declare for that function: nothing in env.json may be a silent no-op."""
    overrides = json.loads(ENV_JSON.read_text())
    functions = load().functions
    shared = overrides.pop("Parameters")
    for function in functions.values():
        assert set(shared) <= set(function.environment), function.logical_id
    for name, variables in overrides.items():
        assert name in functions, name
        assert set(variables) <= set(functions[name].environment), name


def test_env_json_is_what_omo2c_env_json_writes_for_the_default_ports(monkeypatch, capsys):
    for key in LOCAL_SECRETS:
        monkeypatch.delenv(key, raising=False)
    assert cli.main(["env-json"]) == 0
    assert json.loads(ENV_JSON.read_text()) == json.loads(capsys.readouterr().out), \
        "run `omo2c env-json > events/env.json`"


def test_env_json_points_every_function_at_the_local_run_and_gives_each_its_local_secrets():
    overrides = json.loads(ENV_JSON.read_text())
    assert overrides["Parameters"]["AWS_ENDPOINT_URL"] == f"http://host.docker.internal:{cli.DEFAULT_AWS_PORT}"
    assert overrides["Parameters"]["OMO_LINE_API_ENDPOINT"] == "http://host.docker.internal:3000/_local/line"
    assert overrides["Parameters"]["OMO_MEMBERS_TABLE"] == "MembersTable"
    assert overrides["IngestApiFunction"]["OMO_INGEST_QUEUE_URL"].endswith("/123456789012/IngestQueue")
    assert overrides["IngestApiFunction"]["OMO_SOURCE_SECRET_POS"] == LOCAL_SECRETS["OMO_SOURCE_SECRET_POS"]
    assert overrides["AdminAuthorizerFunction"] == {"OMO_ADMIN_TOKEN": LOCAL_SECRETS["OMO_ADMIN_TOKEN"]}
    assert "LINE_CHANNEL_SECRET" not in overrides["SendWorkerFunction"]


def _taken_port() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_omo2c_local_passes_a_fixed_default_aws_port_or_the_one_asked_for(monkeypatch):
    calls = []
    monkeypatch.setattr("infra.local.serve", lambda *args, **kwargs: calls.append(kwargs) or 0)
    monkeypatch.setattr(cli, "aws_port", lambda requested: requested or cli.DEFAULT_AWS_PORT)
    assert cli.main(["local"]) == 0 and cli.main(["local", "--aws-port", "4599", "--host", "0.0.0.0"]) == 0
    assert [(c["aws_port"], c["host"]) for c in calls] == [(4566, "127.0.0.1"), (4599, "0.0.0.0")]


def test_the_default_aws_port_steps_aside_when_taken_but_an_asked_for_port_does_not():
    with closing(_taken_port()) as sock:
        taken = sock.getsockname()[1]
        assert cli.aws_port(None, default=taken) != taken
        assert cli.aws_port(taken, default=taken) == taken
    assert cli.aws_port(None, default=taken) == taken


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """`omo2c local --aws-port` in its own process, as a developer starts it for `sam local invoke`."""
    import subprocess
    import sys
    from types import SimpleNamespace

    from infra.journey import poll
    from infra.local import free_port

    port, aws, workdir = free_port(), free_port(), tmp_path_factory.mktemp("local-run")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "OMO_", "LINE_", "POWERTOOLS_"))}
    log = workdir / "local.log"
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "infra.cli", "local", "--port", str(port), "--aws-port",
                                    str(aws)], cwd=workdir, env={**env, "PYTHONPATH": str(ROOT)}, stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        ready = poll(lambda: next((line for line in log.read_text().splitlines() if "ready at" in line), None), 60)
        assert ready, log.read_text()[-3000:]
        yield SimpleNamespace(url=f"http://127.0.0.1:{port}", aws_endpoint=f"http://127.0.0.1:{aws}", ready=ready)
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_local_run_serves_aws_on_the_port_it_is_given(local_run):
    import requests

    assert f"(AWS endpoints: {local_run.aws_endpoint}" in local_run.ready
    assert requests.get(f"{local_run.aws_endpoint}/moto-api/", timeout=5).ok


def _container_env(function: str, run) -> dict[str, str]:
    """What `sam local invoke --env-vars events/env.json` gives a container: the template's variables,
    env.json's over them, SAM's credentials and region; host.docker.internal is this machine."""
    from infra.template import Names

    overrides = json.loads(ENV_JSON.read_text().replace(
        f"http://host.docker.internal:{cli.DEFAULT_AWS_PORT}", run.aws_endpoint).replace(
        "http://host.docker.internal:3000", run.url))
    names = Names(load())
    declared = {key: str(names.resolve(value)) for key, value in load().functions[function].environment.items()}
    return {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "AWS_REGION": "ap-northeast-1",
            "AWS_DEFAULT_REGION": "ap-northeast-1", "AWS_ACCESS_KEY_ID": "defaultkey",
            "AWS_SECRET_ACCESS_KEY": "defaultsecret", "AWS_SAM_LOCAL": "true",
            **declared, **overrides["Parameters"], **overrides.get(function, {})}


def _invoke_like_a_container(function: str, event: dict, run) -> dict:
    import subprocess
    import sys

    code = ("import json, sys; from infra.handlers import entry_point; from tests.support.aws import FakeContext; "
            "print(json.dumps(entry_point(sys.argv[1])(json.load(sys.stdin), FakeContext())))")
    done = subprocess.run([sys.executable, "-c", code, function], input=json.dumps(event), capture_output=True,
                          text=True, env=_container_env(function, run), timeout=120, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_function_with_env_json_reaches_the_running_local_run(local_run):
    """The `sam local invoke` recipe minus Docker: a signed POS sample goes in, the run's poller records it."""
    from infra.journey import poll

    accepted = _invoke_like_a_container("IngestApiFunction", cli.sign(
        json.loads((EVENTS / "ingest/http-post-webhook-pos.json").read_text())), local_run)
    assert accepted["statusCode"] == 202, accepted
    lookup = json.loads((EVENTS / "ingest/http-get-members-by-phone.json").read_text())

    def found():
        answer = _invoke_like_a_container("MembersApiFunction", lookup, local_run)
        return answer if answer["statusCode"] == 200 else None

    member = poll(found, 30, every=1)
    assert member and json.loads(member["body"])["orders"]["count"] == 1


WEBHOOK_SAMPLES = [("ingest/http-post-webhook-pos.json", "IngestApiFunction", 202),
                   ("ingest/http-post-webhook-shopify.json", "IngestApiFunction", 202),
                   ("bind/http-post-line-webhook.json", "LineWebhookFunction", 200)]


@pytest.mark.parametrize(("path", "function", "status"), WEBHOOK_SAMPLES, ids=[s[0] for s in WEBHOOK_SAMPLES])
def test_omo2c_sign_turns_a_stale_webhook_sample_into_a_happy_path(path, function, status, tmp_path, capsys):
    from omo2c import wiring
    from omo2c.core.settings import Settings
    from tests.support.aws import FakeContext, load_handler
    from tests.support.fakes import FakeMessenger, FakeSms

    sample = json.loads((EVENTS / path).read_text())
    with in_process():
        handler = load_handler(function).lambda_handler

        def invoke(event: dict) -> dict:
            services = wiring.Services(Settings.from_env(), messenger=FakeMessenger(), sms=FakeSms())
            return handler(event, FakeContext(), services=services)

        assert invoke(sample)["statusCode"] == 401
        assert cli.main(["sign", str(EVENTS / path)]) == 0
        signed = json.loads(capsys.readouterr().out)
        assert invoke(signed)["statusCode"] == status, signed["headers"]
        written = tmp_path / "signed.json"
        assert cli.main(["sign", str(EVENTS / path), "--output", str(written)]) == 0
        assert invoke(json.loads(written.read_text()))["statusCode"] == status
    assert signed["body"] == sample["body"]


def test_omo2c_sign_refuses_an_event_that_is_not_a_webhook(capsys):
    assert cli.main(["sign", str(EVENTS / "ingest/http-get-member.json")]) == 2
    assert "not a webhook" in capsys.readouterr().err


def test_the_readme_names_only_files_a_clone_has_and_its_design_doc():
    """A user who clones the repository finds every doc and sample the README sends them to."""
    import re

    readme = (ROOT / "README.md").read_text()
    named = set(re.findall(r"`((?:docs|events|infra|src|functions|bench|tests)/[^`\s]*)`", readme))
    named |= set(re.findall(r"\]\(([^)#]+)\)", readme)) | set(re.findall(r"\b[\w./-]+\.md\b", readme))
    missing = sorted(name for name in named if not any(c in name for c in "<{*") and not (ROOT / name).exists())
    assert not missing
    assert "docs/design.md" in named and "sam local invoke" in readme and "events/env.json" in readme
