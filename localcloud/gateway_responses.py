"""API Gateway's own answers (gateway responses), rendered from the template as API Gateway
renders them: the response type's status code, its response parameters (headers), and its body
template.

A gateway response's body template is not Velocity: API Gateway substitutes `$context.*`
variables and nothing else (API Gateway: "x-amazon-apigateway-gateway-responses.responseTemplates").
So does this renderer: a `#set`, a `$util` call or any other Velocity in a template comes out
as the text it is, as on AWS. What API Gateway puts in `$context.error` is reproduced: `message`,
`messageString` (already a quoted JSON string), `validationErrorString` (not quoted, not
escaped), `responseType`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

# Each type's status when the template does not set one (API Gateway: "Gateway response types").
DEFAULT_STATUS = {
    "ACCESS_DENIED": 403,
    "BAD_REQUEST_BODY": 400,
    "BAD_REQUEST_PARAMETERS": 400,
    "INTEGRATION_FAILURE": 504,
    "INTEGRATION_TIMEOUT": 504,
    "INVALID_API_KEY": 403,
    "MISSING_AUTHENTICATION_TOKEN": 403,
    "QUOTA_EXCEEDED": 429,
    "REQUEST_TOO_LARGE": 413,
    "RESOURCE_NOT_FOUND": 404,
    "THROTTLED": 429,
}
# API Gateway's own message for each type.
DEFAULT_MESSAGE = {
    "BAD_REQUEST_BODY": "Invalid request body",
    "BAD_REQUEST_PARAMETERS": "Invalid request parameters",
    "INTEGRATION_TIMEOUT": "Endpoint request timed out",
    "INVALID_API_KEY": "Forbidden",
    "MISSING_AUTHENTICATION_TOKEN": "Missing Authentication Token",
    "QUOTA_EXCEEDED": "Limit Exceeded",
    "REQUEST_TOO_LARGE": "Request Too Long",
    "THROTTLED": "Too Many Requests",
    "DEFAULT_5XX": "Internal server error",
}


VARIABLE = re.compile(r"\$context((?:\.[A-Za-z][A-Za-z0-9]*)+)")


def substitute(template: str, context: dict[str, Any]) -> str:
    """`$context.a.b` replaced by its value (empty when there is none); everything else kept."""

    def value(match: re.Match[str]) -> str:
        found: Any = context
        for part in match.group(1).strip(".").split("."):
            found = found.get(part, "") if isinstance(found, dict) else ""
        return str(found)

    return VARIABLE.sub(value, template)


@dataclass(frozen=True)
class GatewayResponse:
    status: int | None
    templates: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Rendered:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class GatewayResponses:
    def __init__(self, responses: dict[str, GatewayResponse]) -> None:
        self._responses = responses

    @classmethod
    def from_template(cls, resources: dict[str, dict[str, Any]]) -> GatewayResponses:
        responses = {}
        for resource in resources.values():
            if resource["Type"] != "AWS::ApiGateway::GatewayResponse":
                continue
            props = resource["Properties"]
            responses[props["ResponseType"]] = GatewayResponse(
                status=int(props["StatusCode"]) if "StatusCode" in props else None,
                templates=dict(props.get("ResponseTemplates", {})),
                parameters=dict(props.get("ResponseParameters", {})),
            )
        return cls(responses)

    def render(
        self,
        kind: str,
        *,
        request_id: str,
        request_headers: dict[str, str],
        message: str | None = None,
        validation_error: str = "",
        status: int | None = None,
    ) -> Rendered:
        """API Gateway's answer of type `kind`: the type's own response if the template has one,
        else its class's default (`DEFAULT_4XX` / `DEFAULT_5XX`), else API Gateway's plain
        `{"message": ...}`."""
        status = status or DEFAULT_STATUS.get(kind) or (500 if kind == "DEFAULT_5XX" else 400)
        fallback = "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX"
        response = self._responses.get(kind) or self._responses.get(fallback) or GatewayResponse(status=None)
        if kind in self._responses and response.status is not None:
            status = response.status
        message = message or DEFAULT_MESSAGE.get(kind) or DEFAULT_MESSAGE.get(fallback, "Error")
        context = {
            "requestId": request_id,
            "error": {
                "message": message,
                "messageString": json.dumps(message),
                "validationErrorString": validation_error,
                "responseType": kind,
            },
        }
        template = response.templates.get("application/json")
        body = json.dumps({"message": message}) if template is None else substitute(template, context)
        headers = [("Content-Type", "application/json")]
        for name, source in response.parameters.items():
            if name.startswith("gatewayresponse.header."):
                headers.append((name.removeprefix("gatewayresponse.header."), _value(source, context, request_headers)))
        return Rendered(status, headers, body.encode())


def _value(source: str, context: dict[str, Any], request_headers: dict[str, str]) -> str:
    """A response parameter's value: `'literal'`, `context.<name>` or `method.request.header.<name>`."""
    if source.startswith("'") and source.endswith("'"):
        return source[1:-1]
    if source.startswith("context."):
        value: Any = context
        for part in source.removeprefix("context.").split("."):
            value = value.get(part, "") if isinstance(value, dict) else ""
        return str(value)
    if source.startswith("method.request.header."):
        wanted = source.removeprefix("method.request.header.").lower()
        return next((value for name, value in request_headers.items() if name.lower() == wanted), "")
    return ""
