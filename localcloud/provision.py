"""Provisioning from the synthesized template through the public service APIs.

moto's CloudFormation cannot deploy a CDK template as is (FIFO names lose `.fifo`, several types
are skipped, the EventBus `Ref` crashes), so each resource the app uses is created with the
service's own API, in dependency order, with its intrinsics resolved. Types with no local
meaning are listed as skipped; a type this module does not know is an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcloud.cloudwatch import Alarm
from localcloud.intrinsics import resolve

ACCOUNT = "123456789012"
DEFAULT_REGION = "eu-west-1"  # when the user's AWS configuration names none


def configured_region() -> str:
    """The region the user's AWS configuration names (`AWS_REGION`, `AWS_DEFAULT_REGION`, the
    profile's `region`), as the AWS CLI would use it against the local endpoint."""
    import boto3

    return os.environ.get("AWS_REGION") or boto3.session.Session().region_name or DEFAULT_REGION


REGION = configured_region()

# No local meaning: key aliases, logs and API Gateway (served from the template by the local
# API). Listed, never silently dropped. Roles, policies, keys and resource
# policies are kept (`Permissions`): the local cloud enforces them.
SKIPPED_TYPES = frozenset(
    {
        "AWS::CDK::Metadata",
        "AWS::KMS::Alias",
        "AWS::Logs::LogGroup",
        "AWS::ApiGateway::RestApi",
        "AWS::ApiGateway::Account",
        "AWS::ApiGateway::Deployment",
        "AWS::ApiGateway::Stage",
        "AWS::ApiGateway::Resource",
        "AWS::ApiGateway::Method",
        "AWS::ApiGateway::Model",
        "AWS::ApiGateway::RequestValidator",
        "AWS::ApiGateway::GatewayResponse",
        "AWS::ApiGateway::ApiKey",
        "AWS::ApiGateway::UsagePlan",
        "AWS::ApiGateway::UsagePlanKey",
        "AWS::XRay::ResourcePolicy",
    }
)


class ProvisioningError(Exception):
    pass


def _empty_zip() -> bytes:
    """A placeholder code package for moto's Lambda (the code really runs from the asset)."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("placeholder.py", "")
    return buffer.getvalue()


_EMPTY_ZIP = _empty_zip()


def rest_api_id(logical_id: str) -> str:
    """A REST API's id, ten lowercase letters and digits as API Gateway makes them."""
    return hashlib.sha256(logical_id.encode()).hexdigest()[:10]


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    handler: str
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    environment: dict[str, str]
    timeout_seconds: int
    memory_mb: int
    role_arn: str = ""
    runtime: str = ""  # the template's `Runtime` (python3.13)
    # Where asynchronous events that failed go without an on-failure destination (the
    # destinations and retry settings are the function's EventInvokeConfig, kept by moto).
    dead_letter_arn: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.name}"


def function_name(reference: str) -> str:
    """The function a name or ARN invokes, with any qualifier (`:live`, a version) dropped: the
    local runtime runs one function per name, whatever version or alias is invoked."""
    if reference.startswith("arn:"):
        return reference.split(":")[6]
    return reference.split(":", 1)[0]


@dataclass(frozen=True)
class EventSourceSpec:
    logical_id: str
    function_name: str
    source_arn: str
    batch_size: int
    report_batch_item_failures: bool
    maximum_concurrency: int | None = None
    bisect_on_error: bool = False
    retry_attempts: int = -1
    max_record_age_seconds: int = -1
    on_failure_arn: str | None = None
    filters: tuple[dict[str, Any], ...] = ()
    starting_position: str | None = None

    @property
    def kind(self) -> str:
        return "dynamodb" if ":dynamodb:" in self.source_arn else "sqs"


@dataclass(frozen=True)
class RuleTarget:
    arn: str
    input_transformer: dict[str, Any] | None = None
    input: str | None = None
    retry_attempts: int = 185  # EventBridge's default
    dead_letter_arn: str | None = None
    role_arn: str | None = None  # EventBridge delivers with this role, else as its service principal


@dataclass(frozen=True)
class RuleSpec:
    """A rule as the template defines it: moto matches its pattern and hands the matched events
    to the local cloud, which delivers them to the targets."""

    logical_id: str
    name: str
    arn: str
    targets: tuple[RuleTarget, ...]


@dataclass
class Permissions:
    """The template's access control, resolved: each role's policies (inline and attached), each
    resource's policy (queue, topic, function, bus), each key's policy, and which key encrypts
    which queue or topic."""

    roles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # role ARN -> policies
    resource_policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    key_policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # key ARN -> policy
    encryption: dict[str, str] = field(default_factory=dict)  # queue or topic ARN -> key ARN

    def resource_policy(self, arn: str) -> dict[str, Any] | None:
        """A resource's policies as one document (a queue may have several `QueuePolicy`s)."""
        documents = self.resource_policies.get(arn)
        if not documents:
            return None
        return {"Version": "2012-10-17", "Statement": [s for d in documents for s in _listed(d.get("Statement"))]}


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value] if value else []


@dataclass
class Deployment:
    """What was provisioned: physical values per logical id, and the parts the local runtime runs."""

    template: dict[str, Any]
    values: dict[str, dict[str | None, Any]] = field(default_factory=dict)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    event_sources: list[EventSourceSpec] = field(default_factory=list)
    skipped: dict[str, list[str]] = field(default_factory=dict)
    queue_urls: dict[str, str] = field(default_factory=dict)  # queue ARN -> URL
    outputs: dict[str, Any] = field(default_factory=dict)
    rules: list[RuleSpec] = field(default_factory=list)
    permissions: Permissions = field(default_factory=Permissions)
    state_machine_roles: dict[str, str] = field(default_factory=dict)  # state machine ARN -> role ARN
    alarms: list[Alarm] = field(default_factory=list)  # evaluated by localcloud.cloudwatch
    aliases: dict[str, str] = field(default_factory=dict)  # alias ARN -> function name
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> body, intrinsics resolved

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {lid: res for lid, res in self.template["Resources"].items() if res["Type"] == kind}

    def value(self, logical_id: str, attribute: str | None = None) -> Any:
        return self.values[logical_id][attribute]

    def queue_url(self, logical_prefix: str) -> str:
        """The URL of the queue whose logical id starts with `logical_prefix` (e.g. "OrderHistoryQueue")."""
        matches = [self.value(lid) for lid in self.of_type("AWS::SQS::Queue") if lid.startswith(logical_prefix)]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} queues match {logical_prefix}")
        return str(matches[0])

    def function_by_logical_id(self, logical_id: str) -> FunctionSpec:
        return next(spec for spec in self.functions.values() if spec.logical_id == logical_id)


class Provisioner:
    def __init__(self, template_path: Path, clients: Callable[[str], Any], *, stack_name: str = "orderflow") -> None:
        self._assembly_dir = template_path.parent
        self._template = json.loads(template_path.read_text())
        self._client = clients
        self._stack = stack_name
        self._deployment = Deployment(template=self._template)
        self._in_progress: set[str] = set()
        self._pseudo = {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": stack_name,
            "AWS::NoValue": "",
        }

    def provision(self) -> Deployment:
        resources = self._template["Resources"]
        unknown = sorted({res["Type"] for res in resources.values()} - SKIPPED_TYPES - set(self._creators()))
        if unknown:
            raise ProvisioningError(
                f"the local cloud does not know resource type(s) {', '.join(unknown)}: "
                "add a creator in localcloud/provision.py or list the type as skipped"
            )
        for logical_id in resources:
            self._ensure(logical_id)
        for name, output in self._template.get("Outputs", {}).items():
            self._deployment.outputs[name] = resolve(output["Value"], self._lookup, self._pseudo)
        return self._deployment

    # --- resolution -------------------------------------------------------------------------

    def _ensure(self, logical_id: str) -> None:
        if logical_id in self._deployment.values:
            return
        if logical_id in self._in_progress:
            raise ProvisioningError(f"circular reference through {logical_id}")
        self._in_progress.add(logical_id)
        resource = self._template["Resources"][logical_id]
        kind = resource["Type"]
        if kind in SKIPPED_TYPES:
            self._deployment.skipped.setdefault(kind, []).append(logical_id)
            self._deployment.values[logical_id] = self._skipped(logical_id, resource)
        else:
            self._deployment.values[logical_id] = self._creators()[kind](logical_id, resource)
        self._in_progress.discard(logical_id)

    def _skipped(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        """What a skipped resource's `Ref` stands for: as on AWS where something refers to it (the
        REST API's id and the stage's name make the execute-api ARNs of the API's permissions),
        else its logical id."""
        if resource["Type"] == "AWS::ApiGateway::RestApi":
            return {None: rest_api_id(logical_id)}
        if resource["Type"] == "AWS::ApiGateway::Stage":
            return {None: str(resource["Properties"]["StageName"])}
        return {None: logical_id, "Arn": f"arn:aws:local:::{logical_id}"}

    def _lookup(self, logical_id: str, attribute: str | None) -> Any:
        self._ensure(logical_id)
        values = self._deployment.values[logical_id]
        if attribute not in values:
            raise ProvisioningError(f"{logical_id} has no attribute {attribute!r} locally")
        return values[attribute]

    def _props(self, resource: dict[str, Any]) -> dict[str, Any]:
        return dict(resolve(resource.get("Properties", {}), self._lookup, self._pseudo))

    def _name(self, logical_id: str, suffix: str = "", limit: int = 80) -> str:
        base = f"{self._stack}-{logical_id}"
        return base[: limit - len(suffix)] + suffix

    def _arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"

    def _asset_dir(self, resource: dict[str, Any]) -> Path:
        return self._assembly_dir / str(resource["Metadata"]["aws:asset:path"])

    def _creators(self) -> dict[str, Callable[[str, dict[str, Any]], dict[str | None, Any]]]:
        return {
            "AWS::DynamoDB::Table": self._table,
            "AWS::SQS::Queue": self._queue,
            "AWS::SNS::Topic": self._topic,
            "AWS::SNS::Subscription": self._subscription,
            "AWS::Events::EventBus": self._event_bus,
            "AWS::Events::Archive": self._archive,
            "AWS::Lambda::LayerVersion": self._layer,
            "AWS::Lambda::Function": self._function,
            "AWS::Lambda::Version": self._version,
            "AWS::Lambda::Alias": self._alias,
            "AWS::Lambda::EventSourceMapping": self._event_source_mapping,
            "AWS::Lambda::EventInvokeConfig": self._event_invoke_config,
            "AWS::StepFunctions::StateMachine": self._state_machine,
            "AWS::Events::Rule": self._rule,
            "AWS::IAM::Role": self._role,
            "AWS::IAM::Policy": self._policy,
            "AWS::KMS::Key": self._key,
            "AWS::SQS::QueuePolicy": self._queue_policy,
            "AWS::SNS::TopicPolicy": self._topic_policy,
            "AWS::Lambda::Permission": self._lambda_permission,
            "AWS::Events::EventBusPolicy": self._event_bus_policy,
            "AWS::CloudWatch::Alarm": self._alarm,
            "AWS::CloudWatch::Dashboard": self._dashboard,
        }

    # --- access control (kept for the local cloud's checks; see localcloud.access) -----------

    def _role(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        props = self._props(resource)
        name = props.get("RoleName") or self._name(logical_id, limit=64)
        arn = f"arn:aws:iam::{ACCOUNT}:role/{name}"
        self._deployment.permissions.roles[arn] = [policy["PolicyDocument"] for policy in props.get("Policies", [])]
        return {None: name, "Arn": arn, "RoleId": f"AROA{logical_id.upper()[:17]}"}

    def _policy(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        props = self._props(resource)
        for role_name in props.get("Roles", []):
            arn = f"arn:aws:iam::{ACCOUNT}:role/{role_name}"
            self._deployment.permissions.roles.setdefault(arn, []).append(props["PolicyDocument"])
        return {None: logical_id}

    def _key(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        props = self._props(resource)
        key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self._stack}/{logical_id}"))
        arn = self._arn("kms", f"key/{key_id}")
        self._deployment.permissions.key_policies[arn] = props["KeyPolicy"]
        return {None: key_id, "Arn": arn, "KeyId": key_id}

    def _queue_policy(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        props = self._props(resource)
        arns = {url: arn for arn, url in self._deployment.queue_urls.items()}
        for url in props["Queues"]:
            self._deployment.permissions.resource_policies.setdefault(arns[url], []).append(props["PolicyDocument"])
        return {None: logical_id}

    def _topic_policy(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        props = self._props(resource)
        for arn in props["Topics"]:
            self._deployment.permissions.resource_policies.setdefault(arn, []).append(props["PolicyDocument"])
        return {None: logical_id}

    def _lambda_permission(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        """A function's resource policy statement, as Lambda writes it from `AddPermission`."""
        props = self._props(resource)
        function = str(props["FunctionName"])
        arn = function if function.startswith("arn:") else self._arn("lambda", f"function:{function}")
        principal = str(props["Principal"])
        statement: dict[str, Any] = {
            "Sid": logical_id,
            "Effect": "Allow",
            "Principal": {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal},
            "Action": props["Action"],
            "Resource": arn,
        }
        conditions: dict[str, Any] = {}
        if "SourceArn" in props:
            conditions["ArnLike"] = {"AWS:SourceArn": props["SourceArn"]}
        if "SourceAccount" in props:
            conditions["StringEquals"] = {"AWS:SourceAccount": props["SourceAccount"]}
        if conditions:
            statement["Condition"] = conditions
        self._deployment.permissions.resource_policies.setdefault(arn, []).append({"Statement": [statement]})
        return {None: logical_id}

    def _event_bus_policy(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        props = self._props(resource)
        bus = props.get("EventBusName", "default")
        arn = self._arn("events", f"event-bus/{bus}")
        statement = props.get("Statement") or {
            "Sid": props.get("StatementId", logical_id),
            "Effect": "Allow",
            "Principal": {"AWS": props["Principal"]},
            "Action": props["Action"],
            "Resource": arn,
        }
        self._deployment.permissions.resource_policies.setdefault(arn, []).append({"Statement": [statement]})
        return {None: logical_id}

    # --- creators ---------------------------------------------------------------------------

    def _table(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        props = self._props(resource)
        name = props.get("TableName") or self._name(logical_id, limit=255)
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if "StreamSpecification" in props:
            request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        for index_kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if index_kind in props:
                request[index_kind] = props[index_kind]
        client = self._client("dynamodb")
        description = client.create_table(**request)["TableDescription"]
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
        return {
            None: name,
            "Arn": description["TableArn"],
            "StreamArn": description.get("LatestStreamArn"),
        }

    def _queue(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        props = self._props(resource)
        fifo = bool(props.get("FifoQueue"))
        name = props.get("QueueName") or self._name(logical_id, ".fifo" if fifo else "")
        attributes: dict[str, str] = {}
        for key in (
            "FifoQueue",
            "ContentBasedDeduplication",
            "DeduplicationScope",
            "FifoThroughputLimit",
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "MaximumMessageSize",
            "ReceiveMessageWaitTimeSeconds",
        ):
            if key in props:
                attributes[key] = str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
        if "RedrivePolicy" in props:
            attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        url = self._client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        arn = self._arn("sqs", name)
        self._deployment.queue_urls[arn] = url
        if "KmsMasterKeyId" in props:
            self._deployment.permissions.encryption[arn] = props["KmsMasterKeyId"]
        return {None: url, "Arn": arn, "QueueName": name, "QueueUrl": url}

    def _topic(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        props = self._props(resource)
        fifo = bool(props.get("FifoTopic"))
        name = props.get("TopicName") or self._name(logical_id, ".fifo" if fifo else "", limit=256)
        attributes: dict[str, str] = {
            key: str(props[key]).lower() for key in ("FifoTopic", "ContentBasedDeduplication") if key in props
        }
        if "DisplayName" in props:
            attributes["DisplayName"] = props["DisplayName"]
        arn = self._client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
        if "KmsMasterKeyId" in props:
            self._deployment.permissions.encryption[arn] = props["KmsMasterKeyId"]
        return {None: arn, "TopicArn": arn, "TopicName": name}

    def _subscription(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        props = self._props(resource)
        attributes: dict[str, str] = {}
        if props.get("RawMessageDelivery"):
            attributes["RawMessageDelivery"] = "true"
        for key in ("FilterPolicy", "RedrivePolicy"):
            if key in props:
                attributes[key] = json.dumps(props[key])
        if "FilterPolicyScope" in props:
            attributes["FilterPolicyScope"] = props["FilterPolicyScope"]
        arn = self._client("sns").subscribe(
            TopicArn=props["TopicArn"],
            Protocol=props["Protocol"],
            Endpoint=props["Endpoint"],
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return {None: arn, "Arn": arn}

    def _event_bus(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        props = self._props(resource)
        name = props.get("Name") or self._name(logical_id, limit=256)
        arn = self._client("events").create_event_bus(Name=name)["EventBusArn"]
        return {None: name, "Name": name, "Arn": arn}

    def _archive(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        props = self._props(resource)
        name = props.get("ArchiveName") or self._name(logical_id, limit=48)
        request: dict[str, Any] = {"ArchiveName": name, "EventSourceArn": props["SourceArn"]}
        if "EventPattern" in props:
            request["EventPattern"] = json.dumps(props["EventPattern"])
        if "RetentionDays" in props:
            request["RetentionDays"] = int(props["RetentionDays"])
        arn = self._client("events").create_archive(**request)["ArchiveArn"]
        return {None: name, "Arn": arn, "ArchiveName": name}

    def _layer(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        arn = self._arn("lambda", f"layer:{self._name(logical_id, limit=140)}:1")
        return {None: arn, "LayerVersionArn": arn, "Path": self._asset_dir(resource)}

    def _function(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        props = self._props(resource)
        name = props.get("FunctionName") or self._name(logical_id, limit=64)
        layer_ids = [
            lid for lid, res in self._template["Resources"].items() if res["Type"] == "AWS::Lambda::LayerVersion"
        ]
        layer_paths = {self._lookup(lid, None): self._lookup(lid, "Path") for lid in layer_ids}
        spec = FunctionSpec(
            logical_id=logical_id,
            name=name,
            handler=props["Handler"],
            code_dir=self._asset_dir(resource),
            layer_dirs=tuple(layer_paths[arn] for arn in props.get("Layers", [])),
            environment={k: str(v) for k, v in props.get("Environment", {}).get("Variables", {}).items()},
            timeout_seconds=int(props.get("Timeout", 3)),
            memory_mb=int(props.get("MemorySize", 128)),
            role_arn=str(props["Role"]),
            runtime=str(props.get("Runtime", "")),
            dead_letter_arn=props.get("DeadLetterConfig", {}).get("TargetArn"),
        )
        self._deployment.functions[name] = spec
        # Registered with moto's Lambda too, so Step Functions tasks can invoke it (the local
        # cloud routes moto's invocations to its own runtime).
        self._client("lambda").create_function(
            FunctionName=name,
            Runtime=props.get("Runtime", "python3.13"),
            Role=self._execution_role(),
            Handler=spec.handler,
            Code={"ZipFile": _EMPTY_ZIP},
            Timeout=spec.timeout_seconds,
            MemorySize=spec.memory_mb,
            Environment={"Variables": spec.environment},
        )
        if "ReservedConcurrentExecutions" in props:  # the runtime throttles past it, as Lambda
            self._client("lambda").put_function_concurrency(
                FunctionName=name, ReservedConcurrentExecutions=int(props["ReservedConcurrentExecutions"])
            )
        return {None: name, "Arn": spec.arn}

    def _version(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        """A version published from the function as it is (moto's too, so Step Functions can invoke
        it by its qualified ARN)."""
        name = function_name(str(self._props(resource)["FunctionName"]))
        version = str(self._client("lambda").publish_version(FunctionName=name)["Version"])
        return {None: f"{self._deployment.functions[name].arn}:{version}", "Version": version}

    def _alias(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        """The alias callers invoke (`live`). Locally every version runs the function's one code,
        so the alias is the function under another ARN: its own resource policy (the permissions
        granted on it) and its own name in what invokes it."""
        props = self._props(resource)
        name = function_name(str(props["FunctionName"]))
        self._client("lambda").create_alias(
            FunctionName=name, Name=str(props["Name"]), FunctionVersion=str(props["FunctionVersion"])
        )
        arn = f"{self._deployment.functions[name].arn}:{props['Name']}"
        self._deployment.aliases[arn] = name
        return {None: arn, "AliasArn": arn}

    def _event_invoke_config(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        props = self._props(resource)
        if props.get("Qualifier", "$LATEST") != "$LATEST":
            raise ProvisioningError(f"{logical_id}: only the function's $LATEST is served locally")
        for kind, destination in props.get("DestinationConfig", {}).items():
            if destination.get("Destination", "").split(":")[2:3] not in (["sqs"], ["sns"]):
                raise ProvisioningError(f"{logical_id}: the local cloud sends {kind} records to SQS or SNS only")
        settings = {key: props[key] for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds") if key in props}
        self._client("lambda").put_function_event_invoke_config(
            FunctionName=str(props["FunctionName"]),
            **{key: int(value) for key, value in settings.items()},
            **({"DestinationConfig": props["DestinationConfig"]} if "DestinationConfig" in props else {}),
        )
        return {None: logical_id}

    def _execution_role(self) -> str:
        """The role moto's Lambda records name (moto needs one that exists; a function's calls
        are checked against its template role, `FunctionSpec.role_arn`)."""
        if not hasattr(self, "_role_arn"):
            self._role_arn: str = self._client("iam").create_role(
                RoleName="localcloud-execution",
                AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
            )["Role"]["Arn"]
        return self._role_arn

    def _state_machine(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        props = self._props(resource)
        name = props.get("StateMachineName") or self._name(logical_id, limit=80)
        arn = self._client("stepfunctions").create_state_machine(
            name=name,
            definition=props["DefinitionString"],
            roleArn=str(props["RoleArn"]),  # its calls are made, and checked, with this role
            type=props.get("StateMachineType", "STANDARD"),
        )["stateMachineArn"]
        self._deployment.state_machine_roles[arn] = str(props["RoleArn"])
        return {None: arn, "Arn": arn, "Name": name}

    def _rule(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        props = self._props(resource)
        name = props.get("Name") or self._name(logical_id, limit=64)
        bus = props.get("EventBusName", "default")
        events = self._client("events")
        events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(props["EventPattern"]), State="ENABLED")
        # The template's targets, as `list-targets-by-rule` shows them; moto hands the matched
        # events to the local cloud (`moto_fixes.rule_events_delivered_by`), which delivers them.
        events.put_targets(Rule=name, EventBusName=bus, Targets=props.get("Targets", []))
        targets = tuple(
            RuleTarget(
                arn=target["Arn"],
                input_transformer=target.get("InputTransformer"),
                input=target.get("Input"),
                retry_attempts=int(target.get("RetryPolicy", {}).get("MaximumRetryAttempts", 185)),
                dead_letter_arn=target.get("DeadLetterConfig", {}).get("Arn"),
                role_arn=target.get("RoleArn"),
            )
            for target in props.get("Targets", [])
        )
        arn = self._arn("events", f"rule/{bus}/{name}" if bus != "default" else f"rule/{name}")
        self._deployment.rules.append(RuleSpec(logical_id=logical_id, name=name, arn=arn, targets=targets))
        return {None: name, "Arn": arn}

    def _event_source_mapping(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        props = self._props(resource)
        filters = tuple(json.loads(item["Pattern"]) for item in props.get("FilterCriteria", {}).get("Filters", []))
        spec = EventSourceSpec(
            logical_id=logical_id,
            function_name=function_name(str(props["FunctionName"])),
            source_arn=props["EventSourceArn"],
            batch_size=int(props.get("BatchSize", 10)),
            report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
            maximum_concurrency=props.get("ScalingConfig", {}).get("MaximumConcurrency"),
            bisect_on_error=bool(props.get("BisectBatchOnFunctionError")),
            retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
            max_record_age_seconds=int(props.get("MaximumRecordAgeInSeconds", -1)),
            on_failure_arn=props.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"),
            filters=filters,
            starting_position=props.get("StartingPosition"),
        )
        self._deployment.event_sources.append(spec)
        return {None: logical_id}

    def _alarm(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        """In moto as defined (`describe-alarms` lists it), in `INSUFFICIENT_DATA` as a new alarm
        is; evaluated by `localcloud.cloudwatch` from its definition."""
        props = self._props(resource)
        name = props.get("AlarmName") or self._name(logical_id, limit=255)
        arn = self._arn("cloudwatch", f"alarm:{name}")
        try:
            alarm = Alarm.from_properties(name, arn, props)
        except ValueError as unsupported:
            raise ProvisioningError(str(unsupported)) from unsupported
        request = {key: value for key, value in props.items() if key not in ("AlarmName", "Tags")}
        cloudwatch = self._client("cloudwatch")
        cloudwatch.put_metric_alarm(AlarmName=name, **request)
        cloudwatch.set_alarm_state(
            AlarmName=name, StateValue="INSUFFICIENT_DATA", StateReason="Unchecked: Initial alarm creation"
        )
        self._deployment.alarms.append(alarm)
        return {None: name, "Arn": arn}

    def _dashboard(self, logical_id: str, resource: dict[str, Any]) -> dict[str | None, Any]:
        """In moto as defined (`get-dashboard` returns its body); drawn by the local page from
        the local CloudWatch's metrics."""
        props = self._props(resource)
        name = props.get("DashboardName") or self._name(logical_id, limit=255)
        body = str(props["DashboardBody"])
        self._client("cloudwatch").put_dashboard(DashboardName=name, DashboardBody=body)
        self._deployment.dashboards[name] = json.loads(body)
        return {None: name}
