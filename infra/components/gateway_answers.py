"""What API Gateway answers by itself, before or instead of the function: the same JSON shape as
the function's problems (`{"message", "errors": [{"field", "problem"}]}`) and the correlation
id header, so a client reads every error alike.

Quoting, as API Gateway evaluates these templates (Velocity): `$context.error.messageString` is
already a quoted JSON string, so it goes in bare; `$context.error.validationErrorString` is raw
text (quotes included), so it goes through `$util.escapeJavaScript`, whose `\\'` JSON refuses and
is turned back into `'` (the backslash comes from `$util.urlDecode("%5C")`, so the template holds
no escape sequence for a template engine to read differently).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import aws_apigateway as apigateway

MESSAGE = "$context.error.messageString"
VALIDATION = (
    '#set($backslash = $util.urlDecode("%5C"))'
    '"$util.escapeJavaScript($context.error.validationErrorString).replace("${backslash}\'", "\'")"'
)


def _text(value: str) -> str:
    return json.dumps(value)


@dataclass(frozen=True)
class GatewayAnswer:
    type: apigateway.ResponseType
    status: int | None  # None: API Gateway's status for the error (DEFAULT_4XX / DEFAULT_5XX)
    message: str  # JSON text: a quoted string, or MESSAGE
    field: str
    problem: str  # JSON text: a quoted string, MESSAGE or VALIDATION

    def template(self) -> str:
        return f'{{"message": {self.message}, "errors": [{{"field": {_text(self.field)}, "problem": {self.problem}}}]}}'


GATEWAY_ANSWERS = (
    GatewayAnswer(
        apigateway.ResponseType.INVALID_API_KEY,
        403,
        _text("Forbidden"),
        "x-api-key",
        _text("missing, or not a key of this API"),
    ),
    GatewayAnswer(
        apigateway.ResponseType.MISSING_AUTHENTICATION_TOKEN,
        404,
        _text("Not found"),
        "path",
        _text("no such route or method"),
    ),
    GatewayAnswer(
        apigateway.ResponseType.THROTTLED,
        429,
        _text("Too many requests"),
        "x-api-key",
        _text("over the request rate of this key's usage plan: retry with backoff"),
    ),
    GatewayAnswer(
        apigateway.ResponseType.QUOTA_EXCEEDED,
        429,
        _text("Quota exceeded"),
        "x-api-key",
        _text("this key's daily quota is used up"),
    ),
    GatewayAnswer(apigateway.ResponseType.BAD_REQUEST_BODY, 422, _text("Invalid request"), "body", VALIDATION),
    GatewayAnswer(
        apigateway.ResponseType.BAD_REQUEST_PARAMETERS, 422, _text("Invalid request"), "parameters", VALIDATION
    ),
    GatewayAnswer(apigateway.ResponseType.REQUEST_TOO_LARGE, 413, _text("Request body too large"), "body", MESSAGE),
    GatewayAnswer(
        apigateway.ResponseType.UNSUPPORTED_MEDIA_TYPE,
        415,
        _text("Unsupported media type"),
        "Content-Type",
        _text("send application/json"),
    ),
    GatewayAnswer(
        apigateway.ResponseType.INTEGRATION_TIMEOUT,
        504,
        _text("Timed out"),
        "request",
        _text("no answer in time: retry with the same Idempotency-Key"),
    ),
    GatewayAnswer(apigateway.ResponseType.DEFAULT_4_XX, None, MESSAGE, "request", MESSAGE),
    GatewayAnswer(
        apigateway.ResponseType.DEFAULT_5_XX, None, MESSAGE, "request", _text("the request could not be served")
    ),
)
