"""Every AWS call a function makes, checked against the template's permissions, as AWS would.

Each execution environment gets credentials of its own (as Lambda gives it its role's session
credentials), so the endpoint knows which function, and so which role, is calling. A request is
turned into the IAM actions and resources AWS authorizes it as (a transaction is one action per
item, a batch is its single action, a send to an encrypted queue also needs the key), evaluated
with `localcloud.iam` against the role's policies, the resource's policy and the key's policy.
A denied call is answered as the service answers it (code, status and AWS's message shape) and
reported; nothing of it is applied.

Calls with any other credentials (the operator's: tests, the CLI, the local cloud's own pollers)
are not checked, as an administrator's would pass. `aws:SecureTransport` is true for a
function's calls: the AWS SDK uses HTTPS on Lambda (the local endpoint is plain HTTP).

Not checked: REST-protocol services (Lambda `Invoke`, X-Ray) and DynamoDB's use of its table
key (DynamoDB reaches a customer managed key through the grant it made at table creation, not
with the caller's permissions).
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from localcloud.iam import Decision, Request, evaluate, evaluate_kms
from localcloud.provision import ACCOUNT, REGION, Deployment, FunctionSpec

SECRET = "local"  # noqa: S105 - the local endpoint checks no signature


def access_key(function_name: str) -> str:
    """The access key id of a function's environments (`ASIA...`: temporary credentials)."""
    return "ASIA" + hashlib.sha256(function_name.encode()).hexdigest()[:16].upper()


@dataclass(frozen=True)
class Denial:
    function: str
    principal: str  # the assumed-role ARN AWS names in its message
    action: str
    resource: str
    code: str
    message: str


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
    def __init__(self, deployment: Deployment, report: Callable[[Denial], None]) -> None:
        self._permissions = deployment.permissions
        self._callers = {access_key(spec.name): spec for spec in deployment.functions.values()}
        self._report = report
        self.denials: list[Denial] = []
        self._lock = threading.Lock()

    # --- credentials ------------------------------------------------------------------------

    @staticmethod
    def credentials(spec: FunctionSpec) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": access_key(spec.name),
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "AWS_SESSION_TOKEN": f"local-session-{spec.name}",
        }

    def policies_of(self, spec: FunctionSpec) -> list[dict[str, Any]]:
        """The function's role policies (a live list: a test may take a permission away)."""
        return self._permissions.roles.setdefault(spec.role_arn, [])

    # --- the check --------------------------------------------------------------------------

    def authorize(self, spec: FunctionSpec, service: str, operation: str, params: dict[str, Any]) -> Denial | None:
        """The first denial among what the call needs, or None when all of it is allowed."""
        role_name = spec.role_arn.rsplit("/", 1)[-1]
        principal = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{spec.name}"
        identity = self.policies_of(spec)
        context = {"aws:SecureTransport": "true", "aws:PrincipalAccount": ACCOUNT, "aws:PrincipalArn": spec.role_arn}
        for action, resource in _needs(service, operation, params):
            request = Request(principal=spec.role_arn, action=action, resource=resource, context=context)
            decision = evaluate(request, identity, self._permissions.resource_policy(resource))
            if decision is not Decision.ALLOW:
                return self._deny(spec, principal, action, resource, _why(decision, action))
            key = self._permissions.encryption.get(resource)
            if key is None:
                continue
            key_context = {**context, "kms:ViaService": f"{service}.{REGION}.amazonaws.com"}
            for key_action in _key_actions(action):
                key_request = Request(principal=spec.role_arn, action=key_action, resource=key, context=key_context)
                key_decision = evaluate_kms(key_request, self._permissions.key_policies.get(key, {}), identity)
                if key_decision is not Decision.ALLOW:
                    return self._deny(spec, principal, key_action, key, _why(key_decision, key_action, kms=True))
        return None

    def _deny(self, spec: FunctionSpec, principal: str, action: str, resource: str, why: str) -> Denial:
        kms = action.startswith("kms:")
        denial = Denial(
            function=spec.name,
            principal=principal,
            action=action,
            resource=resource,
            code="KMSAccessDenied" if kms else "AccessDenied",
            message=f"User: {principal} is not authorized to perform: {action} on resource: {resource} {why}",
        )
        with self._lock:
            self.denials.append(denial)
        self._report(denial)
        return denial

    # --- the endpoint -----------------------------------------------------------------------

    def middleware(self, app: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap moto's WSGI application: a function's denied call never reaches moto."""

        def checked(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            caller, service = _caller(environ.get("HTTP_AUTHORIZATION", ""))
            spec = self._callers.get(caller)
            if spec is None:
                return app(environ, start_response)
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            parsed = _operation(environ, body)
            if parsed is None:
                return app(environ, start_response)
            operation, params, protocol = parsed
            denial = self.authorize(spec, service, operation, params)
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
    return None  # a REST-protocol call


def _needs(service: str, operation: str, params: dict[str, Any]) -> list[tuple[str, str]]:
    """The (IAM action, resource ARN) pairs AWS authorizes the call as."""
    prefix = _SERVICE_PREFIX.get(service, service)
    single = _SINGLE.get(operation, operation)
    by_service = {"dynamodb": _dynamodb, "sqs": _sqs, "sns": _sns, "events": _events, "states": _states, "kms": _kms}
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


def _why(decision: Decision, action: str, *, kms: bool = False) -> str:
    if decision is Decision.EXPLICIT_DENY:
        return "with an explicit deny in a resource-based policy" if kms else "with an explicit deny"
    if kms:
        return "because no resource-based policy allows the " + action + " action"
    return f"because no identity-based policy allows the {action} action"


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
