"""What API Gateway answers by itself, before or instead of the function: the same JSON shape as
the function's problems (`{"message", "errors": [{"field", "problem"}]}`) and the correlation
id header, so a client reads every error alike.

A gateway response's template is not Velocity: API Gateway only substitutes variables in it
(API Gateway: "x-amazon-apigateway-gateway-responses.responseTemplates"). So the templates hold
fixed JSON text and `$context.error.messageString`, which API Gateway gives already quoted as a
JSON string. `$context.error.validationErrorString` is raw text with quotes in it and nothing
can escape it there: no template uses it (the function validates bodies instead, naming fields).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from aws_cdk import aws_apigateway as apigateway

MESSAGE = "$context.error.messageString"


def _text(value: str) -> str:
    return json.dumps(value)


@dataclass(frozen=True)
class GatewayAnswer:
    type: apigateway.ResponseType
    status: int | None  # None: API Gateway's status for the error (DEFAULT_4XX / DEFAULT_5XX)
    message: str  # JSON text: a quoted string, or MESSAGE
    field: str
    problem: str  # JSON text: a quoted string or MESSAGE

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
    GatewayAnswer(apigateway.ResponseType.BAD_REQUEST_PARAMETERS, 422, _text("Invalid request"), "parameters", MESSAGE),
    # No method validates its body at the gateway (the function does, naming fields); should a
    # team add a body validator, its answer keeps the shape, without the validator's detail.
    GatewayAnswer(apigateway.ResponseType.BAD_REQUEST_BODY, 422, _text("Invalid request"), "body", MESSAGE),
    GatewayAnswer(apigateway.ResponseType.REQUEST_TOO_LARGE, 413, _text("Request body too large"), "body", MESSAGE),
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
