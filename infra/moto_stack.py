"""The template's AWS resources in moto: the one bootstrap behind the local run, ``omo2c invoke``,
the tests and the benchmarks.

:func:`provision` creates every table, queue, bus, rule and schedule group template.yaml
declares and sets the environment the handlers read, against moto's server (``aws_endpoint``)
or moto in this process; :func:`in_process` wraps it in ``mock_aws()`` and gives the process
environment back on exit.

Local secret defaults (override any of them with the environment variable of that name, or
pass ``secrets=``): ``OMO_SOURCE_SECRET_POS=local-pos-secret``,
``OMO_SOURCE_SECRET_EC=local-ec-secret``, ``OMO_SOURCE_SECRET_SHOPIFY=local-shopify-secret``,
``LINE_CHANNEL_SECRET=local-line-channel-secret``,
``LINE_CHANNEL_ACCESS_TOKEN=local-line-access-token``, ``OMO_ADMIN_TOKEN=local-admin-token``,
``OMO_OTP_KEY=local-otp-key``, ``OMO_MEMBER_CODE_KEY=local-member-code-key``,
``OMO_UNSUBSCRIBE_KEY=local-unsubscribe-key``.
The local e-mail sender is ``OMO_EMAIL_FROM="OMO2C 本機 <news@omo2c.local>"`` (overridable the same way;
empty sends no e-mail), verified in moto's SES with the template's configuration sets.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from infra.template import REGION, Names, Template, load

LOCAL_SECRETS = {
    "OMO_SOURCE_SECRET_POS": "local-pos-secret",
    "OMO_SOURCE_SECRET_EC": "local-ec-secret",
    "OMO_SOURCE_SECRET_SHOPIFY": "local-shopify-secret",
    "LINE_CHANNEL_SECRET": "local-line-channel-secret",
    "LINE_CHANNEL_ACCESS_TOKEN": "local-line-access-token",
    "OMO_ADMIN_TOKEN": "local-admin-token",
    "OMO_OTP_KEY": "local-otp-key",
    "OMO_MEMBER_CODE_KEY": "local-member-code-key",
    "OMO_UNSUBSCRIBE_KEY": "local-unsubscribe-key",
}
LOCAL_EMAIL_FROM = "OMO2C 本機 <news@omo2c.local>"
DEFAULT_GATEWAY_URL = "http://127.0.0.1:3000"
# Business rules the environment of `omo2c local` (or a test) may set instead of the template's values.
LOCAL_RULES = ("OMO_QUIET_HOURS", "OMO_FREQUENCY_CAP_MAX", "OMO_FREQUENCY_CAP_DAYS")


def local_email_from() -> str:
    """The local run's sender: the environment's ``OMO_EMAIL_FROM`` (even empty), else :data:`LOCAL_EMAIL_FROM`."""
    return os.environ.get("OMO_EMAIL_FROM", LOCAL_EMAIL_FROM)


def create_resources(template: Template, names: Names, client: Callable[[str], Any],
                     email_from: str = LOCAL_EMAIL_FROM) -> None:
    """Tables, queues (dead-letter queues first), buses, rules (no bus named: the default bus), schedule groups
    and SES configuration sets of the template, and ``email_from`` verified as an SES identity."""
    dynamodb = client("dynamodb")
    for logical_id, props in template.tables.items():
        kwargs: dict[str, Any] = {"TableName": names.ref(logical_id), "KeySchema": props["KeySchema"],
                                  "AttributeDefinitions": props["AttributeDefinitions"],
                                  "BillingMode": "PAY_PER_REQUEST"}
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        dynamodb.create_table(**kwargs)
        ttl = props.get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(TableName=kwargs["TableName"], TimeToLiveSpecification=ttl)
    sqs = client("sqs")
    ordered = sorted(template.queues.values(), key=lambda q: q.dead_letter is not None)
    for queue in ordered:
        attributes = {"VisibilityTimeout": str(queue.visibility_timeout)}
        if queue.dead_letter:
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": names.arn(queue.dead_letter),
                                                      "maxReceiveCount": queue.max_receive_count})
        url = sqs.create_queue(QueueName=queue.logical_id, Attributes=attributes)["QueueUrl"]
        names.queue_urls[queue.logical_id] = url
    events = client("events")
    for logical_id in template.buses:
        events.create_event_bus(Name=names.ref(logical_id))
    for rule in template.rules.values():
        bus = names.ref(rule.bus) if rule.bus else "default"
        events.put_rule(Name=rule.logical_id, EventBusName=bus, EventPattern=names.pattern_json(rule))
        events.put_targets(Rule=rule.logical_id, EventBusName=bus, Targets=[
            {"Id": target, "Arn": names.arn(target)} for target in rule.target_queues])
    scheduler = client("scheduler")
    for logical_id in template.schedule_groups:
        scheduler.create_schedule_group(Name=names.ref(logical_id))
    _create_email(template, names, client, email_from)


def _create_email(template: Template, names: Names, client: Callable[[str], Any], email_from: str) -> None:
    """moto's SES v2: the configuration sets the template declares, and the sender's address verified."""
    from email.utils import parseaddr

    sesv2 = client("sesv2")
    for resource in template.raw["Resources"].values():
        if resource["Type"] == "AWS::SES::ConfigurationSet":
            name = names.resolve((resource.get("Properties") or {}).get("Name", ""))
            if name:
                sesv2.create_configuration_set(ConfigurationSetName=name)
    address = parseaddr(email_from)[1]
    if "@" in address:
        sesv2.create_email_identity(EmailIdentity=address)


def _connect(aws_endpoint: str | None) -> dict[str, str]:
    """Point boto3 at moto: its server at ``aws_endpoint``, or (None) ``mock_aws()`` in this process."""
    for key in [k for k in os.environ if k.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[key]
    env = {"AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
           "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}
    if aws_endpoint:
        env["AWS_ENDPOINT_URL"] = aws_endpoint
    os.environ.update(env)
    from omo2c.core.aws import reset_clients

    reset_clients()
    return env


def reset_services() -> None:
    """Forget cached settings, clients and services: the environment they were built from changed."""
    from omo2c import wiring

    wiring.reset()


def configure_environment(names: Names, aws_endpoint: str | None = None, gateway_url: str = DEFAULT_GATEWAY_URL,
                          secrets: Mapping[str, str] | None = None) -> dict[str, str]:
    """Everything a handler reads from its environment, as the template (and AWS) would set it.

    Sets it in ``os.environ`` and returns it. ``aws_endpoint`` None means moto intercepts
    in-process; ``secrets`` win over :data:`LOCAL_SECRETS` and the environment's own values.
    """
    env = {
        **names.environment(),  # first: the local endpoints below win over the template's AWS ones
        **_connect(aws_endpoint),
        "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_DEV": "false", "POWERTOOLS_METRICS_DISABLED": "true",
        "OMO_LINE_API_ENDPOINT": f"{gateway_url}/_local/line",
        "OMO_LINE_LOGIN_JWKS_URL": f"{gateway_url}/_local/line/oauth2/v2.1/certs",
    }
    env["POWERTOOLS_LOG_LEVEL"] = os.environ.get("OMO_LOCAL_LOG_LEVEL", "WARNING")
    for key in LOCAL_RULES:  # a local run may try other business rules than the template's
        if key in os.environ:
            env[key] = os.environ[key]
    for key, default in LOCAL_SECRETS.items():
        env[key] = os.environ.get(key, default)
    env["OMO_EMAIL_FROM"] = local_email_from()
    env.update(secrets or {})
    os.environ.update(env)
    reset_services()
    return env


def provision(names: Names, aws_endpoint: str | None = None, gateway_url: str = DEFAULT_GATEWAY_URL,
              secrets: Mapping[str, str] | None = None) -> dict[str, str]:
    """Create every resource of ``names.template`` in moto, then configure the environment (returned)."""
    from infra.moto_speedups import install

    install()
    _connect(aws_endpoint)
    from omo2c.core.aws import client

    create_resources(names.template, names, client, (secrets or {}).get("OMO_EMAIL_FROM", local_email_from()))
    return configure_environment(names, aws_endpoint, gateway_url, secrets)


@dataclass
class MotoStack:
    """What :func:`in_process` built: the template, its local names (with queue URLs) and the environment."""

    template: Template
    names: Names
    env: dict[str, str]

    def queue_url(self, logical_id: str) -> str:
        return self.names.queue_urls[logical_id]


@contextmanager
def _environ_restored() -> Iterator[None]:
    saved = dict(os.environ)
    try:
        yield
    finally:
        for key in [k for k in os.environ if k not in saved]:
            del os.environ[key]
        os.environ.update(saved)


@contextmanager
def in_process(template: Template | None = None, *, gateway_url: str = DEFAULT_GATEWAY_URL,
               secrets: Mapping[str, str] | None = None,
               rules: Mapping[str, str] | None = None) -> Iterator[MotoStack]:
    """``mock_aws()`` with the template's resources and the handlers' environment; both undone on exit.
    ``rules`` (of :data:`LOCAL_RULES`) stand in for the template's values, as the environment's do."""
    from moto import mock_aws

    names = Names(template or load())
    with _environ_restored(), mock_aws():
        os.environ.update(rules or {})
        env = provision(names, None, gateway_url, secrets)
        try:
            yield MotoStack(names.template, names, env)
        finally:
            reset_services()
