"""Every AWS call a function or the state machine makes, and every delivery between services,
checked against the template's permissions, as AWS would.

A caller is a role session (a function's execution environments, the state machine, a rule
target's role) or a service principal acting for one of the stack's resources (SNS delivering
for a topic, EventBridge for a rule: `aws:SourceArn`). Each caller gets credentials of its own
(as Lambda gives a function its role's session credentials), so the endpoint knows who is
calling. A request is turned into the IAM actions and resources AWS authorizes it as (a
transaction is one action per item, a batch is its single action, a send to an encrypted queue
also needs the key), evaluated with `localcloud.iam` against the caller's role policies, the
resource's policy and the key's policy. A denied call is answered as the service answers it
(code, status and AWS's message shape) and reported; nothing of it is applied.

Calls with any other credentials (the operator's: tests, the CLI, the local cloud's own
mechanics standing in for time passing or for SQS's duplicates) are not checked, as an
administrator's would pass. `aws:SecureTransport` is true for every checked call: the AWS SDK
and the services use HTTPS on AWS (the local endpoint is plain HTTP).

Not checked: X-Ray (no daemon locally) and DynamoDB's use of its table key (DynamoDB reaches a
customer managed key through the grant it made at table creation, not with the caller's
permissions).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import urllib.parse
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localcloud.iam import Decision, Request, evaluate, evaluate_kms
from localcloud.provision import ACCOUNT, REGION, Deployment, FunctionSpec

SECRET = "local"  # noqa: S105 - the local endpoint checks no signature


def access_key(caller: str) -> str:
    """The access key id of a caller's session (`ASIA...`: temporary credentials)."""
    return "ASIA" + hashlib.sha256(caller.encode()).hexdigest()[:16].upper()


@dataclass(frozen=True)
class Caller:
    """Who makes a call: a role session, or a service principal acting for a resource."""

    name: str  # what reports name: the function, state machine, rule target or delivering service
    principal: str  # the role ARN, or the service principal (`sns.amazonaws.com`)
    arn: str  # who AWS names in a denial: the assumed-role session, or the service principal
    source_arn: str = ""  # a service principal's `aws:SourceArn`: the topic or rule it acts for

    @classmethod
    def of_function(cls, spec: FunctionSpec) -> Caller:
        return cls.of_role(spec.role_arn, session=spec.name)

    @classmethod
    def of_role(cls, role_arn: str, *, session: str) -> Caller:
        role_name = role_arn.rsplit("/", 1)[-1]
        return cls(name=session, principal=role_arn, arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{session}")

    @classmethod
    def of_service(cls, service: str, *, source_arn: str) -> Caller:
        principal = f"{service}.amazonaws.com"
        return cls(
            name=f"{service} for {source_arn.rsplit(':', 1)[-1]}",
            principal=principal,
            arn=principal,
            source_arn=source_arn,
        )

    @property
    def service(self) -> bool:
        return self.principal.endswith(".amazonaws.com")

    def credentials(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": access_key(self.arn + self.source_arn),
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_SESSION_TOKEN": f"local-session-{self.name}",
        }

    def context(self) -> dict[str, str]:
        """The global condition keys AWS sets on this caller's requests."""
        if self.service:
            return {"aws:SecureTransport": "true", "aws:SourceArn": self.source_arn, "aws:SourceAccount": ACCOUNT}
        return {"aws:SecureTransport": "true", "aws:PrincipalAccount": ACCOUNT, "aws:PrincipalArn": self.principal}


@dataclass(frozen=True)
class Denial:
    caller: str
    principal: str  # the assumed-role ARN (or the service) AWS names in its message
    action: str
    resource: str
    code: str
    message: str


# The codes a denial is answered with, by service (see `_answer`).
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthorizationError",
        "KMS.AccessDeniedException",
        "KMSAccessDenied",
        "KMSAccessDeniedException",
    }
)


def denied(error: Exception) -> bool:
    """Whether a client error is a permission denial (the endpoint's or a service's)."""
    code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
    return str(code).removeprefix("com.amazonaws.sqs#") in DENIED_CODES


# A batch action is authorized as its single action (SQS API Reference, "Batch actions").
_SINGLE = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
    "PublishBatch": "Publish",
}
# TransactWriteItems and TransactGetItems are authorized item by item (DynamoDB Developer Guide,
# "Using IAM with DynamoDB transactions").
_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
_SERVICE_PREFIX = {"monitoring": "cloudwatch"}


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def _table(name: str) -> str:
    return name if name.startswith("arn:") else _arn("dynamodb", f"table/{name}")


def _queue(url: str) -> str:
    return _arn("sqs", url.rstrip("/").rsplit("/", 1)[-1])


class AccessControl:
    def __init__(
        self,
        deployment: Deployment,
        report: Callable[[Denial], None],
        policy_outside: Callable[[str], dict[str, Any] | None] = lambda _: None,
    ) -> None:
        self._permissions = deployment.permissions
        self._template_queues = set(deployment.queue_urls)
        self._policy_outside = policy_outside  # the policy of a queue the template does not define
        self._callers: dict[str, Caller] = {}
        for spec in deployment.functions.values():
            self.register(Caller.of_function(spec))
        self._report = report
        self.denials: list[Denial] = []
        # Every request allowed so far: (caller, service, action, resource).
        self.granted: set[tuple[Caller, str, str, str]] = set()
        self._lock = threading.Lock()

    def register(self, caller: Caller) -> dict[str, str]:
        """Let the endpoint recognise this caller's credentials; returns them."""
        credentials = caller.credentials()
        self._callers[credentials["AWS_ACCESS_KEY_ID"]] = caller
        return credentials

    def policies_of(self, role_arn: str) -> list[dict[str, Any]]:
        """A role's policies (a live list: a test may take a permission away)."""
        return self._permissions.roles.setdefault(role_arn, [])

    # --- the check --------------------------------------------------------------------------

    def authorize(self, caller: Caller, service: str, operation: str, params: dict[str, Any]) -> Denial | None:
        """The first denial among what the call needs, or None when all of it is allowed."""
        for action, resource in _needs(service, operation, params):
            denial = self.check(caller, service, action, resource)
            if denial is not None:
                return denial
        return None

    def check(self, caller: Caller, service: str, action: str, resource: str) -> Denial | None:
        """One action on one resource, and the key of the encrypted queue or topic it touches:
        a denial is reported, an allowed request remembered (`granted`)."""
        refused = self.refusal(caller, service, action, resource)
        if refused is None:
            self.granted.add((caller, service, action, resource))
            return None
        return self._deny(caller, *refused)

    def refusal(self, caller: Caller, service: str, action: str, resource: str) -> tuple[str, str, str] | None:
        """(the action refused, its resource, AWS's reason), or None when all of it is allowed;
        nothing is reported."""
        identity = [] if caller.service else self.policies_of(caller.principal)
        context = caller.context()
        request = Request(principal=caller.principal, action=action, resource=resource, context=context)
        decision = evaluate(request, identity, self._resource_policy(resource))
        if decision is not Decision.ALLOW:
            return action, resource, _why(decision, action, resource_based=caller.service)
        key = self._permissions.encryption.get(resource)
        if key is None:
            return None
        key_context = {**context, "kms:ViaService": f"{service}.{REGION}.amazonaws.com"}
        for key_action in _key_actions(action):
            key_request = Request(principal=caller.principal, action=key_action, resource=key, context=key_context)
            key_decision = evaluate_kms(key_request, self._permissions.key_policies.get(key, {}), identity)
            if key_decision is not Decision.ALLOW:
                return key_action, key, _why(key_decision, key_action, resource_based=True)
        return None

    def _resource_policy(self, arn: str) -> dict[str, Any] | None:
        if arn.startswith("arn:aws:sqs:") and arn not in self._template_queues:
            return self._policy_outside(arn)
        return self._permissions.resource_policy(arn)

    def summary(self) -> list[str]:
        """Every denial seen, one line per caller, action and resource, with how often."""
        with self._lock:
            counted = Counter((d.caller, d.action, d.resource) for d in self.denials)
        if not counted:
            return ["permissions: nothing was denied (every call and delivery the template allows)"]
        lines = [f"permissions: {sum(counted.values())} denied call(s) or deliveries, as AWS would deny them:"]
        lines += [
            f"  {count}x {caller}: {action} on {resource}" for (caller, action, resource), count in counted.items()
        ]
        return lines

    def _deny(self, caller: Caller, action: str, resource: str, why: str) -> Denial:
        kms = action.startswith("kms:")
        denial = Denial(
            caller=caller.name,
            principal=caller.arn,
            action=action,
            resource=resource,
            code="KMSAccessDenied" if kms else "AccessDenied",
            message=f"User: {caller.arn} is not authorized to perform: {action} on resource: {resource} {why}",
        )
        with self._lock:
            self.denials.append(denial)
        self._report(denial)
        return denial

    # --- the endpoint -----------------------------------------------------------------------

    def middleware(self, app: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap moto's WSGI application: a function's denied call never reaches moto."""

        def checked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            key, service = _caller(environ.get("HTTP_AUTHORIZATION", ""))
            caller = self._callers.get(key)
            if caller is None:
                return app(environ, start_response)
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            parsed = _operation(environ, body)
            if parsed is None:
                return app(environ, start_response)
            operation, params, protocol = parsed
            denial = self.authorize(caller, service, operation, params)
            if denial is None:
                return app(environ, start_response)
            status, headers, payload = _answer(service, protocol, denial)
            start_response(status, headers)
            return [payload]

        return checked


def _caller(authorization: str) -> tuple[str, str]:
    """(access key id, signing service) from a SigV4 `Authorization` header."""
    marker = "Credential="
    if marker not in authorization:
        return "", ""
    scope = authorization.split(marker, 1)[1].split(",", 1)[0].split("/")
    return scope[0], (scope[3] if len(scope) > 3 else "")


def _operation(environ: dict[str, Any], body: bytes) -> tuple[str, dict[str, Any], str] | None:
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.rsplit(".", 1)[-1], json.loads(body or b"{}"), "json"
    if environ.get("REQUEST_METHOD") == "POST" and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        form = {key: values[0] for key, values in urllib.parse.parse_qs(body.decode()).items()}
        if "Action" in form:
            return form["Action"], form, "query"
    invoke = _LAMBDA_INVOKE.fullmatch(environ.get("PATH_INFO", ""))
    if invoke and environ.get("REQUEST_METHOD") == "POST":
        return "Invoke", {"FunctionName": urllib.parse.unquote(invoke.group(1))}, "rest-json"
    return None  # another REST-protocol call: X-Ray's, unchecked


_LAMBDA_INVOKE = re.compile(r"/2015-03-31/functions/([^/]+)/invocations")


def _needs(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs AWS authorizes the call as."""
    prefix = _SERVICE_PREFIX.get(service, service)
    single = _SINGLE.get(operation, operation)
    by_service = {
        "dynamodb": _dynamodb,
        "sqs": _sqs,
        "sns": _sns,
        "events": _events,
        "states": _states,
        "kms": _kms,
        "lambda": _lambda,
    }
    if prefix in by_service:
        return by_service[prefix](single, params)
    return [(f"{prefix}:{operation}", "*")]


def _dynamodb(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    if operation == "TransactWriteItems":
        return [
            (f"dynamodb:{_TRANSACT[kind]}", _table(detail["TableName"]))
            for item in params.get("TransactItems", [])
            for kind, detail in item.items()
        ]
    if operation == "TransactGetItems":
        return [("dynamodb:GetItem", _table(item["Get"]["TableName"])) for item in params.get("TransactItems", [])]
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", _table(table)) for table in params.get("RequestItems", {})]
    if "StreamArn" in params:
        return [(f"dynamodb:{operation}", str(params["StreamArn"]))]
    if "ShardIterator" in params:
        # GetRecords is authorized on the iterator's stream (moto's iterators begin with its ARN).
        return [(f"dynamodb:{operation}", str(params["ShardIterator"]).split("|", 1)[0])]
    table = params.get("TableName")
    if table is None:
        return [(f"dynamodb:{operation}", "*")]
    index = f"/index/{params['IndexName']}" if params.get("IndexName") else ""
    return [(f"dynamodb:{operation}", _table(table) + index)]


def _sqs(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    if "QueueUrl" in params:
        return [(f"sqs:{operation}", _queue(params["QueueUrl"]))]
    return [(f"sqs:{operation}", _arn("sqs", params["QueueName"]) if "QueueName" in params else "*")]


def _sns(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    return [(f"sns:{operation}", params.get("TopicArn") or params.get("TargetArn") or "*")]


def _events(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    if operation != "PutEvents":
        return [(f"events:{operation}", "*")]
    buses = sorted({entry.get("EventBusName") or "default" for entry in params.get("Entries", [])})
    return [
        ("events:PutEvents", bus if bus.startswith("arn:") else _arn("events", f"event-bus/{bus}")) for bus in buses
    ]


def _states(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    if operation.startswith("SendTask"):
        machine = _state_machine_of_token(params.get("taskToken", ""))
        return [(f"states:{operation}", machine)] if machine else []  # an unknown token: InvalidToken
    return [(f"states:{operation}", params.get("stateMachineArn") or params.get("executionArn") or "*")]


def _lambda(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    if operation != "Invoke":
        return [(f"lambda:{operation}", "*")]
    name = str(params["FunctionName"])
    return [("lambda:InvokeFunction", name if name.startswith("arn:") else _arn("lambda", f"function:{name}"))]


def _kms(operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    key = str(params.get("KeyId", "*"))
    return [(f"kms:{operation}", key if key.startswith("arn:") or key == "*" else _arn("kms", f"key/{key}"))]


def _key_actions(action: str) -> tuple[str, ...]:
    """What the caller needs on the key of an encrypted queue or topic (SQS Developer Guide,
    "Key management"; SNS Developer Guide, "Managing Amazon SNS encryption keys")."""
    if action in ("sqs:SendMessage", "sns:Publish"):
        return ("kms:GenerateDataKey", "kms:Decrypt")
    if action == "sqs:ReceiveMessage":
        return ("kms:Decrypt",)
    return ()


def _state_machine_of_token(token: str) -> str | None:
    """SendTask* is authorized on the state machine whose execution issued the token (then the
    service refuses a closed one); a token no execution issued names none, and the service
    answers `InvalidToken`."""
    from localcloud.moto_fixes import TOKEN_ISSUERS

    return TOKEN_ISSUERS.get(token)


def _why(decision: Decision, action: str, *, resource_based: bool = False) -> str:
    """AWS's reason: a service principal and a key are allowed by resource-based policies alone."""
    kind = "resource-based" if resource_based else "identity-based"
    if decision is Decision.EXPLICIT_DENY:
        return f"with an explicit deny in {'a' if resource_based else 'an'} {kind} policy"
    return f"because no {kind} policy allows the {action} action"


def _answer(service: str, protocol: str, denial: Denial) -> tuple[str, list[tuple[str, str]], bytes]:
    """The denial as the service answers it: SQS keeps its query error codes in either protocol,
    SNS (query) has its own, the JSON services answer `AccessDeniedException`."""
    request_id = str(uuid.uuid4())
    kms = denial.code == "KMSAccessDenied"
    status = "400 Bad Request" if kms else "403 Forbidden"
    if service == "sqs":
        code = "KMS.AccessDeniedException" if kms else "AccessDenied"
    elif protocol == "query":
        code = "KMSAccessDenied" if kms else "AuthorizationError"
    else:
        code = "KMSAccessDeniedException" if kms else "AccessDeniedException"
        status = "400 Bad Request"
    if protocol == "rest-json":  # Lambda
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", "AccessDeniedException"),
        ]
        return "403 Forbidden", headers, json.dumps({"Type": "User", "message": denial.message}).encode()
    if protocol == "query":
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{code}</Code><Message>{_xml(denial.message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body.encode()
    headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", request_id)]
    if service == "sqs":
        headers.append(("x-amzn-query-error", f"{code};Sender"))
        code = f"com.amazonaws.sqs#{code}"
    return status, headers, json.dumps({"__type": code, "message": denial.message}).encode()


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
