"""What the local run, the tests and the tools read from template.yaml — and only from there.

A YAML loader that understands CloudFormation's short tags, a typed view of the parts the
local run needs (functions with their routes and queues, tables, queues with redrive,
buses, rules, schedule groups), and a small resolver for Ref/GetAtt/Sub/Join that gives
each resource its local physical name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "template.yaml"
ACCOUNT = "123456789012"
REGION = "ap-northeast-1"
ALIAS = "live"  # the template's AutoPublishAlias


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader plus the short intrinsic tags (!Ref, !GetAtt, !Sub, ...)."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _intrinsic)


def load_raw(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    function: str
    protected: bool

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class QueueSource:
    queue: str
    batch_size: int
    report_failures: bool


@dataclass
class Function:
    logical_id: str
    code_uri: str
    handler: str
    environment: dict[str, Any]
    routes: list[Route] = field(default_factory=list)
    queues: list[QueueSource] = field(default_factory=list)

    @property
    def module_path(self) -> Path:
        return ROOT / self.code_uri / f"{self.handler.rpartition('.')[0]}.py"

    @property
    def entry_point(self) -> str:
        return self.handler.rpartition(".")[2]


@dataclass
class Queue:
    logical_id: str
    dead_letter: str | None
    max_receive_count: int | None
    visibility_timeout: int


@dataclass
class Rule:
    logical_id: str
    bus: str | None  # None: the account's default bus (where AWS services such as SES publish)
    pattern: dict[str, Any]
    target_queues: list[str]


@dataclass
class Template:
    raw: dict[str, Any]
    functions: dict[str, Function]
    queues: dict[str, Queue]
    tables: dict[str, dict[str, Any]]
    buses: dict[str, dict[str, Any]]
    rules: dict[str, Rule]
    schedule_groups: dict[str, dict[str, Any]]
    authorizer: str | None

    @property
    def routes(self) -> list[Route]:
        return [route for function in self.functions.values() for route in function.routes]


def _ref_id(value: Any) -> str:
    """The logical id behind !Ref X / !GetAtt X.Arn."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"].removesuffix(".Alias")  # SAM's `!Ref Function.Alias`: the function's alias
        if "Fn::GetAtt" in value:
            return value["Fn::GetAtt"][0]
    raise ValueError(f"expected a reference, got {value!r}")


def _api_auth(raw: dict[str, Any]) -> str | None:
    for resource in raw["Resources"].values():
        if resource["Type"] == "AWS::Serverless::HttpApi":
            auth = resource["Properties"].get("Auth") or {}
            default = auth.get("DefaultAuthorizer")
            if default:
                return _ref_id(auth["Authorizers"][default]["FunctionArn"])
    return None


@cache
def load(path: Path = TEMPLATE) -> Template:
    raw = load_raw(path)
    resources = raw["Resources"]
    global_env = (((raw.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get("Variables", {})
    functions: dict[str, Function] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        env = {**global_env, **((props.get("Environment") or {}).get("Variables") or {})}
        function = Function(logical_id, props["CodeUri"], props["Handler"], env)
        for event in (props.get("Events") or {}).values():
            event_props = event.get("Properties") or {}
            if event["Type"] == "HttpApi":
                auth = (event_props.get("Auth") or {}).get("Authorizer")
                function.routes.append(Route(event_props["Method"].upper(), event_props["Path"], logical_id,
                                             auth != "NONE"))
            elif event["Type"] == "SQS":
                function.queues.append(QueueSource(
                    _ref_id(event_props["Queue"]), int(event_props.get("BatchSize", 10)),
                    "ReportBatchItemFailures" in (event_props.get("FunctionResponseTypes") or [])))
        functions[logical_id] = function
    queues = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::SQS::Queue":
            continue
        props = resource.get("Properties") or {}
        redrive = props.get("RedrivePolicy") or {}
        queues[logical_id] = Queue(
            logical_id, _ref_id(redrive["deadLetterTargetArn"]) if redrive else None,
            int(redrive["maxReceiveCount"]) if redrive else None, int(props.get("VisibilityTimeout", 30)))
    rules = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Events::Rule":
            continue
        props = resource["Properties"]
        bus = _ref_id(props["EventBusName"]) if props.get("EventBusName") else None
        rules[logical_id] = Rule(logical_id, bus, props["EventPattern"],
                                 [_ref_id(t["Arn"]) for t in props.get("Targets", [])])

    def of(kind: str) -> dict[str, dict[str, Any]]:
        return {k: v.get("Properties") or {} for k, v in resources.items() if v["Type"] == kind}

    return Template(raw, functions, queues, of("AWS::DynamoDB::Table"), of("AWS::Events::EventBus"), rules,
                    of("AWS::Scheduler::ScheduleGroup"), _api_auth(raw))


class Names:
    """Local physical names and ARNs for the template's resources."""

    def __init__(self, template: Template, queue_urls: dict[str, str] | None = None) -> None:
        self.template = template
        self.queue_urls = queue_urls or {}
        self.parameters = {k: str(v.get("Default", "")) for k, v in (template.raw.get("Parameters") or {}).items()}

    def type_of(self, logical_id: str) -> str:
        return self.template.raw["Resources"][logical_id]["Type"]

    def ref(self, name: str) -> str:
        pseudo = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                  "AWS::StackName": "omo2c-local", "AWS::URLSuffix": "amazonaws.com"}
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name.endswith(".Alias"):  # SAM's AutoPublishAlias: the alias ARN, which the local run invokes alike
            return f"{self.arn(name.removesuffix('.Alias'), 'AWS::Serverless::Function')}:{ALIAS}"
        kind = self.type_of(name)
        if kind == "AWS::SQS::Queue":
            return self.queue_urls.get(name, f"http://localhost/{ACCOUNT}/{name}")
        if kind in ("AWS::Events::EventBus", "AWS::Scheduler::ScheduleGroup"):
            props = self.template.raw["Resources"][name].get("Properties") or {}
            return self.resolve(props["Name"]) if "Name" in props else name
        return name

    def get_att(self, name: str, attribute: str) -> str:
        kind = self.type_of(name)
        if attribute == "QueueName":
            return name
        if attribute == "Arn":
            return self.arn(name, kind)
        if attribute == "QueueUrl":
            return self.ref(name)
        raise KeyError(f"{name}.{attribute} is not known to the local run")

    def arn(self, name: str, kind: str | None = None) -> str:
        kind = kind or self.type_of(name)
        service_arns = {
            "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}",
            "AWS::Serverless::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}",
            "AWS::IAM::Role": f"arn:aws:iam::{ACCOUNT}:role/{name}",
            "AWS::Events::EventBus": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{self.ref(name)}",
            "AWS::Events::Rule": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{name}",
        }
        return service_arns.get(kind, f"arn:aws:local:{REGION}:{ACCOUNT}:{name}")

    def function_for_arn(self, arn: str) -> str | None:
        name = arn.split(":function:", 1)[-1].split(":", 1)[0]
        return name if name in self.template.functions else None

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            return self.ref(value["Ref"])
        if "Fn::GetAtt" in value:
            name, attribute = value["Fn::GetAtt"]
            return self.get_att(name, attribute)
        if "Fn::Sub" in value:
            text = value["Fn::Sub"]
            extra: dict[str, Any] = {}
            if isinstance(text, list):
                text, extra = text[0], {k: self.resolve(v) for k, v in text[1].items()}

            def sub(match: re.Match[str]) -> str:
                token = match.group(1)
                if token in extra:
                    return str(extra[token])
                if "." in token and not token.startswith("AWS::"):
                    name, attribute = token.split(".", 1)
                    return self.get_att(name, attribute)
                return self.ref(token)

            return re.sub(r"\$\{([^}]+)\}", sub, text)
        if "Fn::Join" in value:
            delimiter, parts = value["Fn::Join"]
            return delimiter.join(str(self.resolve(p)) for p in parts)
        return {k: self.resolve(v) for k, v in value.items()}

    def environment(self) -> dict[str, str]:
        """The union of every function's resolved environment; functions must agree on values."""
        merged: dict[str, str] = {}
        for function in self.template.functions.values():
            for key, raw in function.environment.items():
                value = str(self.resolve(raw))
                if key in merged and merged[key] != value:
                    raise ValueError(f"functions disagree on {key}: {merged[key]!r} vs {value!r}")
                merged[key] = value
        return merged

    def table_names(self) -> dict[str, str]:
        return {logical_id: self.ref(logical_id) for logical_id in self.template.tables}

    def pattern_json(self, rule: Rule) -> str:
        return json.dumps(self.resolve(rule.pattern))
