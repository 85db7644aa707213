"""Checks over a synthesized template: what AWS needs before a resource works as intended, as
far as the template alone shows it. Each check takes the template (a dict) and returns what it
found wrong, one line per problem (empty: nothing). `test_checks.py` runs each on the real
template and on a copy with the mistake planted, so a check that cannot fail fails there.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from typing import Any

from infra.references import invoked_function, target

Template = dict[str, Any]

# Services that invoke Lambda asynchronously (Lambda: "Invoking functions asynchronously").
ASYNC_INVOKERS = frozenset(
    {
        "events.amazonaws.com",
        "sns.amazonaws.com",
        "s3.amazonaws.com",
        "ses.amazonaws.com",
        "iot.amazonaws.com",
        "logs.amazonaws.com",
        "scheduler.amazonaws.com",
    }
)
CLOUDWATCH = "cloudwatch.amazonaws.com"
# A publisher needs these on the key of an encrypted topic (SNS: "Encryption at rest").
KEY_ACTIONS_TO_PUBLISH = ("kms:Decrypt", "kms:GenerateDataKey")
DATA_TYPES = ("AWS::DynamoDB::Table", "AWS::KMS::Key", "AWS::Logs::LogGroup", "AWS::Events::Archive")


# --- reading a template ---------------------------------------------------------------------


def resources(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {lid: res for lid, res in template["Resources"].items() if res["Type"] == kind}


def invoked(template: Template, value: Any) -> str | None:
    """The function a reference invokes: a `Ref`/`Fn::GetAtt` anywhere inside `value` (an ARN
    built with `Fn::Join` too), to the function itself or to an alias of it (`live`)."""
    return invoked_function(template["Resources"], value)


def render(value: Any) -> Any:
    """A policy document with its intrinsics turned into text (`{"Ref": "X"}` -> `"<X>"`), a
    `Fn::Join` joined: enough to read statements, principals and actions."""
    if isinstance(value, dict):
        if "Ref" in value or "Fn::GetAtt" in value:
            return f"<{target(value)}>"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(str(render(part)) for part in parts)
        return {key: render(item) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item) for item in value]
    return value


def statements(document: Any) -> list[dict[str, Any]]:
    rendered = render(document)
    if isinstance(rendered, str):
        rendered = json.loads(rendered)
    found = rendered.get("Statement", [])
    return found if isinstance(found, list) else [found]


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def allows(statement: dict[str, Any], *, action: str, service: str | None = None, resource: str | None = None) -> bool:
    """An `Allow` statement covering `action` (IAM matches actions case-insensitively, with
    wildcards), for `service` as principal and `resource` (a logical id) when given."""
    if statement.get("Effect") != "Allow":
        return False
    actions = [str(a).lower() for a in _listed(statement.get("Action", []))]
    if not any(fnmatch.fnmatchcase(action.lower(), pattern) for pattern in actions):
        return False
    if service is not None:
        principal = statement.get("Principal", {})
        services = _listed(principal.get("Service", [])) if isinstance(principal, dict) else []
        if service not in services:
            return False
    if resource is not None:
        resources_named = [str(r) for r in _listed(statement.get("Resource", []))]
        if not any(r == "*" or f"<{resource}>" in r for r in resources_named):
            return False
    return True


def role_statements(template: Template, role: str) -> Iterator[dict[str, Any]]:
    """Every statement granted to a role: its inline policies and the `AWS::IAM::Policy`s on it."""
    definition = template["Resources"].get(role, {}).get("Properties", {})
    for policy in definition.get("Policies", []):
        yield from statements(policy["PolicyDocument"])
    for policy in resources(template, "AWS::IAM::Policy").values():
        if role in (target(r) for r in policy["Properties"].get("Roles", [])):
            yield from statements(policy["Properties"]["PolicyDocument"])


def _metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """The metrics an alarm watches: a plain metric, or those of its math expression."""
    if "MetricName" in alarm:
        return [{"MetricName": alarm["MetricName"], "Dimensions": alarm.get("Dimensions", [])}]
    return [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m]


def dead_letter_queues(template: Template) -> set[str]:
    """Every queue a redrive policy points at, and every on-failure or rule-target DLQ."""
    found: set[str] = set()
    for queue in resources(template, "AWS::SQS::Queue").values():
        policy = queue["Properties"].get("RedrivePolicy")
        if policy:
            found.add(str(target(policy["deadLetterTargetArn"])))
    for rule in resources(template, "AWS::Events::Rule").values():
        for rule_target in rule["Properties"].get("Targets", []):
            if "DeadLetterConfig" in rule_target:
                found.add(str(target(rule_target["DeadLetterConfig"]["Arn"])))
    for mapping in resources(template, "AWS::Lambda::EventSourceMapping").values():
        destination = mapping["Properties"].get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        if destination:
            found.add(str(target(destination)))
    return found


def payment_path(template: Template) -> set[str]:
    """Functions that take or give back money: those given the payments table."""
    return {
        lid
        for lid, function in resources(template, "AWS::Lambda::Function").items()
        if "PAYMENTS_TABLE" in function["Properties"].get("Environment", {}).get("Variables", {})
    }


def alarms_that_matter_once(template: Template) -> dict[str, str]:
    """Alarm logical id -> why it must fire on a single datapoint."""
    dlqs, payments = dead_letter_queues(template), payment_path(template)
    found: dict[str, str] = {}
    for lid, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        for metric in _metrics(alarm["Properties"]):
            refs = {target(d["Value"]) for d in metric.get("Dimensions", [])}
            name = metric["MetricName"]
            if name == "ApproximateNumberOfMessagesVisible" and refs & dlqs:
                found[lid] = "a message in a dead-letter queue"
            elif name in ("ExecutionsFailed", "ExecutionsTimedOut"):
                found[lid] = "a saga execution failed or timed out"
            elif name == "OrdersNeedingAttention":
                found[lid] = "an order in NEEDS_ATTENTION"
            elif name == "Errors" and refs & payments:
                found[lid] = "a function error in the payment path"
    return found


# --- checks -----------------------------------------------------------------------------------


def alarm_actions_that_cannot_publish(template: Template) -> list[str]:
    """Every alarm action is a topic that CloudWatch may publish to: the topic policy allows
    `cloudwatch.amazonaws.com` (scoped to this account's alarms), and an encrypted topic's key
    policy lets CloudWatch use the key."""
    problems = []
    policies = resources(template, "AWS::SNS::TopicPolicy").values()
    for lid, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        actions = props.get("AlarmActions", []) + props.get("OKActions", []) + props.get("InsufficientDataActions", [])
        if not actions:
            problems.append(f"{lid}: no action: nobody hears it")
        for action in actions:
            topic = target(action)
            if topic not in template["Resources"]:
                problems.append(f"{lid}: action {action} is not a topic of this stack")
                continue
            granted = [
                statement
                for policy in policies
                if topic in (target(t) for t in policy["Properties"]["Topics"])
                for statement in statements(policy["Properties"]["PolicyDocument"])
                if allows(statement, action="sns:Publish", service=CLOUDWATCH, resource=topic)
            ]
            if not granted:
                problems.append(f"{lid}: the policy of topic {topic} does not let CloudWatch publish")
            elif not all("aws:SourceArn" in json.dumps(s.get("Condition", {})) for s in granted):
                problems.append(f"{lid}: topic {topic} lets any CloudWatch alarm publish, not this account's")
            key = target(template["Resources"][topic]["Properties"].get("KmsMasterKeyId"))
            if key is None:
                continue
            key_statements = statements(template["Resources"][key]["Properties"]["KeyPolicy"])
            for needed in KEY_ACTIONS_TO_PUBLISH:
                if not any(allows(s, action=needed, service=CLOUDWATCH) for s in key_statements):
                    problems.append(f"{lid}: key {key} of topic {topic} does not allow CloudWatch {needed}")
    return sorted(set(problems))


def alarms_that_wait(template: Template) -> list[str]:
    """Alarms about what matters the first time (a DLQ message, a failed saga, an order needing
    attention, a payment-path error) evaluate one period and alarm on one datapoint."""
    problems = []
    for lid, why in alarms_that_matter_once(template).items():
        props = template["Resources"][lid]["Properties"]
        periods, datapoints = (
            props.get("EvaluationPeriods"),
            props.get("DatapointsToAlarm", props.get("EvaluationPeriods")),
        )
        if (periods, datapoints) != (1, 1):
            problems.append(f"{lid} ({why}): {datapoints} of {periods} datapoints, not 1 of 1")
    return problems


def asynchronous_invocations_without_destination(template: Template) -> list[str]:
    """A function some service invokes asynchronously (an EventBridge rule, an SNS subscription,
    a permission for such a service) has an on-failure destination and a bounded event age:
    otherwise an event that keeps failing is dropped after Lambda's retries."""
    invoking: dict[str, str] = {}
    functions = resources(template, "AWS::Lambda::Function")
    for lid, rule in resources(template, "AWS::Events::Rule").items():
        for rule_target in rule["Properties"].get("Targets", []):
            if invoked(template, rule_target["Arn"]) in functions:
                invoking[str(invoked(template, rule_target["Arn"]))] = f"rule {lid}"
    for lid, subscription in resources(template, "AWS::SNS::Subscription").items():
        if subscription["Properties"].get("Protocol") == "lambda":
            invoking[str(invoked(template, subscription["Properties"]["Endpoint"]))] = f"subscription {lid}"
    for lid, permission in resources(template, "AWS::Lambda::Permission").items():
        props = permission["Properties"]
        if props.get("Principal") in ASYNC_INVOKERS and invoked(template, props["FunctionName"]) in functions:
            invoking[str(invoked(template, props["FunctionName"]))] = f"{props['Principal']} (permission {lid})"
    configs = {
        target(config["Properties"]["FunctionName"]): config["Properties"]
        for config in resources(template, "AWS::Lambda::EventInvokeConfig").values()
    }
    problems = []
    for function, by in sorted(invoking.items()):
        config = configs.get(function, {})
        if not config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination"):
            problems.append(f"{function}, invoked asynchronously by {by}, has no on-failure destination")
        if "MaximumEventAgeInSeconds" not in config:
            problems.append(f"{function}, invoked asynchronously by {by}, has no maximum event age")
    return problems


def traced_hops_that_cannot_record(template: Template) -> list[str]:
    """Tracing is on for the API stage, every function, every topic and the state machine, and
    each can deliver its segments: functions and the state machine through their roles, SNS
    through X-Ray's resource policy (SNS: "Active tracing in Amazon SNS")."""
    problems = []
    for lid, stage in resources(template, "AWS::ApiGateway::Stage").items():
        if stage["Properties"].get("TracingEnabled") is not True:
            problems.append(f"{lid}: API stage without X-Ray tracing")
    traced = [
        (lid, fn["Properties"].get("TracingConfig", {}).get("Mode") == "Active", target(fn["Properties"]["Role"]))
        for lid, fn in resources(template, "AWS::Lambda::Function").items()
    ] + [
        (
            lid,
            sm["Properties"].get("TracingConfiguration", {}).get("Enabled") is True,
            target(sm["Properties"]["RoleArn"]),
        )
        for lid, sm in resources(template, "AWS::StepFunctions::StateMachine").items()
    ]
    for lid, active, role in traced:
        if not active:
            problems.append(f"{lid}: tracing not active")
        elif not any(allows(s, action="xray:PutTraceSegments") for s in role_statements(template, str(role))):
            problems.append(f"{lid}: its role {role} may not put trace segments")
    xray = [
        s
        for policy in resources(template, "AWS::XRay::ResourcePolicy").values()
        for s in statements(policy["Properties"]["PolicyDocument"])
    ]
    for lid, topic in resources(template, "AWS::SNS::Topic").items():
        if topic["Properties"].get("TracingConfig") != "Active":
            if topic["Properties"].get("FifoTopic"):
                problems.append(f"{lid}: the order-events topic is not traced")
            continue
        if not any(allows(s, action="xray:PutTraceSegments", service="sns.amazonaws.com") for s in xray):
            problems.append(f"{lid}: traced, but X-Ray's resource policy does not let SNS put segments")
    return problems


def account_hygiene(template: Template, *, prefix: str) -> list[str]:
    """Names and account-wide settings that would clash with, or leak into, the rest of the
    account: vended-logs log groups for Step Functions, a REST API named after the stage, and
    no account-wide API Gateway role unless it is created on purpose and kept."""
    problems = []
    groups = resources(template, "AWS::Logs::LogGroup")
    for lid, machine in resources(template, "AWS::StepFunctions::StateMachine").items():
        for destination in machine["Properties"].get("LoggingConfiguration", {}).get("Destinations", []):
            group = target(destination["CloudWatchLogsLogGroup"]["LogGroupArn"])
            name = str(groups.get(str(group), {}).get("Properties", {}).get("LogGroupName", ""))
            if not name.startswith("/aws/vendedlogs/"):
                problems.append(f"{lid}: logs to {group} ({name or 'no name'}), not under /aws/vendedlogs/")
    for lid, api in resources(template, "AWS::ApiGateway::RestApi").items():
        if not str(api["Properties"].get("Name", "")).startswith(prefix):
            problems.append(f"{lid}: REST API named {api['Properties'].get('Name')!r}, not after the stage")
    for lid, account in resources(template, "AWS::ApiGateway::Account").items():
        role = target(account["Properties"].get("CloudWatchRoleArn"))
        if template["Resources"].get(str(role), {}).get("DeletionPolicy") != "Retain":
            problems.append(f"{lid}: sets the account's API Gateway role {role}, deleted with the stack")
    return problems


def data_not_retained(template: Template) -> list[str]:
    """What holds data (tables, the keys that decrypt them, logs, the event archive, dead-letter
    queues) outlives the stack: `Retain` on deletion and replacement; tables also refuse
    deletion outright."""
    holders = {lid for kind in DATA_TYPES for lid in resources(template, kind)} | dead_letter_queues(template)
    problems = []
    for lid in sorted(holders):
        resource = template["Resources"][lid]
        if (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) != ("Retain", "Retain"):
            problems.append(f"{lid} ({resource['Type']}): not retained when the stack goes")
        if resource["Type"] == "AWS::DynamoDB::Table" and not resource["Properties"].get("DeletionProtectionEnabled"):
            problems.append(f"{lid}: no deletion protection")
    return problems


# Names the template spells out, per type: (property, the service's limit).
NAME_LIMITS = {
    "AWS::XRay::ResourcePolicy": ("PolicyName", 128),
    "AWS::Events::EventBus": ("Name", 256),
    "AWS::Logs::LogGroup": ("LogGroupName", 512),
    "AWS::CloudWatch::Alarm": ("AlarmName", 255),
    "AWS::CloudWatch::Dashboard": ("DashboardName", 255),
    "AWS::ApiGateway::RestApi": ("Name", 1024),
    "AWS::SQS::Queue": ("QueueName", 80),
    "AWS::SNS::Topic": ("TopicName", 256),
    "AWS::DynamoDB::Table": ("TableName", 255),
    "AWS::Lambda::Function": ("FunctionName", 64),
    "AWS::StepFunctions::StateMachine": ("StateMachineName", 80),
    "AWS::Events::Rule": ("Name", 64),
    "AWS::Events::Archive": ("ArchiveName", 48),
}


def names_too_long(template: Template, *, prefix: str, longest_prefix: int) -> list[str]:
    """Names built from the stage's prefix (`orderflow-<stage>`) that a prefix of `longest_prefix`
    characters would push over their service's limit."""
    problems = []
    for kind, (prop, limit) in NAME_LIMITS.items():
        for lid, resource in resources(template, kind).items():
            name = render(resource.get("Properties", {}).get(prop))
            if not isinstance(name, str):
                continue
            longest = len(name) + (longest_prefix - len(prefix)) * name.count(prefix)
            if longest > limit:
                problems.append(f"{lid}: {prop} reaches {longest} characters, {kind} takes {limit}")
    return problems


# --- AWS Foundational Security Best Practices controls that apply to these resource types -----
# Each control the stack meets has a check here; the Security table (docs/security.md) lists every
# applicable control, met or not (and why not), and test_checks.py ties the two together.


def _stages(template: Template) -> list[tuple[str, dict[str, Any]]]:
    return list(resources(template, "AWS::ApiGateway::Stage").items())


def _public(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    everyone = principal == "*" or (isinstance(principal, dict) and "*" in _listed(principal.get("AWS", [])))
    return statement.get("Effect") == "Allow" and everyone and not statement.get("Condition")


def _failing(kind: str, test: Any, template: Template, what: str) -> list[str]:
    return [
        f"{lid}: {what}"
        for lid, resource in resources(template, kind).items()
        if not test(resource.get("Properties", {}))
    ]


CONTROLS: dict[str, Any] = {
    "APIGateway.1": lambda t: [
        f"{lid}: no execution logging"
        for lid, stage in _stages(t)
        if not any(s.get("LoggingLevel") in ("INFO", "ERROR") for s in stage["Properties"].get("MethodSettings", []))
    ],
    "APIGateway.3": lambda t: _failing(
        "AWS::ApiGateway::Stage", lambda p: p.get("TracingEnabled") is True, t, "no X-Ray"
    ),
    "APIGateway.5": lambda t: [
        f"{lid}: cache not encrypted"
        for lid, stage in _stages(t)
        if stage["Properties"].get("CacheClusterEnabled")
        and not all(s.get("CacheDataEncrypted") for s in stage["Properties"].get("MethodSettings", []))
    ],
    "CloudWatch.15": lambda t: _failing(
        "AWS::CloudWatch::Alarm", lambda p: bool(p.get("AlarmActions")), t, "no action"
    ),
    "CloudWatch.17": lambda t: _failing(
        "AWS::CloudWatch::Alarm", lambda p: p.get("ActionsEnabled", True) is not False, t, "actions disabled"
    ),
    "DynamoDB.1": lambda t: _failing(
        "AWS::DynamoDB::Table", lambda p: p.get("BillingMode") == "PAY_PER_REQUEST", t, "provisioned, no scaling"
    ),
    "DynamoDB.2": lambda t: _failing(
        "AWS::DynamoDB::Table",
        lambda p: p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True,
        t,
        "no point-in-time recovery",
    ),
    "DynamoDB.6": lambda t: _failing(
        "AWS::DynamoDB::Table", lambda p: p.get("DeletionProtectionEnabled") is True, t, "no deletion protection"
    ),
    "EventBridge.3": lambda t: [
        f"{lid}: custom bus without a resource policy"
        for lid in resources(t, "AWS::Events::EventBus")
        if not any(
            target(p["Properties"].get("EventBusName")) == lid
            for p in resources(t, "AWS::Events::EventBusPolicy").values()
        )
    ],
    "KMS.4": lambda t: _failing("AWS::KMS::Key", lambda p: p.get("EnableKeyRotation") is True, t, "no rotation"),
    "Lambda.1": lambda t: _failing(
        "AWS::Lambda::Permission",
        lambda p: p.get("Principal") != "*" and bool(p.get("SourceArn") or p.get("SourceAccount")),
        t,
        "invocable by anyone, or by a service on anyone's behalf",
    ),
    "Lambda.2": lambda t: _failing(
        "AWS::Lambda::Function", lambda p: p.get("Runtime") in SUPPORTED_RUNTIMES, t, "unsupported runtime"
    ),
    "SNS.1": lambda t: _failing("AWS::SNS::Topic", lambda p: bool(p.get("KmsMasterKeyId")), t, "not KMS-encrypted"),
    "SNS.4": lambda t: [
        f"{lid}: public"
        for lid, policy in resources(t, "AWS::SNS::TopicPolicy").items()
        if any(_public(s) for s in statements(policy["Properties"]["PolicyDocument"]))
    ],
    "SQS.1": lambda t: _failing("AWS::SQS::Queue", lambda p: bool(p.get("KmsMasterKeyId")), t, "not encrypted"),
    "SQS.3": lambda t: [
        f"{lid}: public"
        for lid, policy in resources(t, "AWS::SQS::QueuePolicy").items()
        if any(_public(s) for s in statements(policy["Properties"]["PolicyDocument"]))
    ],
    "StepFunctions.1": lambda t: _failing(
        "AWS::StepFunctions::StateMachine",
        lambda p: p.get("LoggingConfiguration", {}).get("Level", "OFF") != "OFF",
        t,
        "no logging",
    ),
    "Logs encryption": lambda t: _failing(
        "AWS::Logs::LogGroup", lambda p: bool(p.get("KmsKeyId")), t, "not encrypted with a customer key"
    ),
}
# Lambda runtimes AWS supports for new functions (Lambda: "Lambda runtimes"), the Python ones.
SUPPORTED_RUNTIMES = frozenset({"python3.10", "python3.11", "python3.12", "python3.13", "python3.14"})
