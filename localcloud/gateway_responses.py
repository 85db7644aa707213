"""API Gateway's own answers (gateway responses), rendered from the template as API Gateway
renders them: the response type's status code, its response parameters (headers), and its body
mapping template, a Velocity (VTL) template evaluated with `$context` and `$util`.

airspeed (a Python implementation of Velocity) evaluates the templates. What API Gateway puts in
`$context.error` is reproduced: `message`, `messageString` (already a quoted JSON string),
`validationErrorString` (not quoted, not escaped), `responseType`. `$util.escapeJavaScript` escapes
as Java's commons-lang `StringEscapeUtils.escapeJavaScript` does (`'` becomes `\\'`, which JSON
does not accept: templates must undo it).
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import airspeed

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
    "UNSUPPORTED_MEDIA_TYPE": 415,
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
    "UNSUPPORTED_MEDIA_TYPE": "Unsupported Media Type",
    "DEFAULT_5XX": "Internal server error",
}


def escape_javascript(text: str) -> str:
    """Java's `StringEscapeUtils.escapeJavaScript` (commons-lang 2), which `$util.escapeJavaScript`
    is: quotes, backslash and slash escaped, control characters and everything above 0x7f as
    `\\uXXXX` (upper-case hex)."""
    named = {'"': '\\"', "'": "\\'", "\\": "\\\\", "/": "\\/", "\b": "\\b", "\n": "\\n", "\t": "\\t", "\f": "\\f"}
    named["\r"] = "\\r"
    out = []
    for char in text:
        if char in named:
            out.append(named[char])
        elif ord(char) < 0x20 or ord(char) > 0x7F:
            out.extend(f"\\u{unit:04X}" for unit in _utf16(char))
        else:
            out.append(char)
    return "".join(out)


def _utf16(char: str) -> list[int]:
    encoded = char.encode("utf-16-be")
    return [int.from_bytes(encoded[index : index + 2], "big") for index in range(0, len(encoded), 2)]


class Util:
    """`$util` in API Gateway's mapping templates (the functions a gateway response can use)."""

    def escapeJavaScript(self, text: Any) -> str:  # noqa: N802 - API Gateway's name
        return escape_javascript("" if text is None else str(text))

    def urlEncode(self, text: Any) -> str:  # noqa: N802
        return urllib.parse.quote_plus(str(text))

    def urlDecode(self, text: Any) -> str:  # noqa: N802
        return urllib.parse.unquote_plus(str(text))

    def base64Encode(self, text: Any) -> str:  # noqa: N802
        return base64.b64encode(str(text).encode()).decode()

    def base64Decode(self, text: Any) -> str:  # noqa: N802
        return base64.b64decode(str(text)).decode()


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
        if template is None:
            body = json.dumps({"message": message})
        else:
            body = airspeed.Template(template).merge({"context": context, "util": Util()})
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
