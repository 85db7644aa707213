"""Every gateway response in the template renders, as API Gateway evaluates it, to valid JSON in
the API's error shape with the correlation id header, whatever the error text holds."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from localcloud.gateway_responses import GatewayResponses
from tests.infra import checks

HARD_TEXT = [
    "plain",
    'it\'s "quoted"',
    "back\\slash / slash",
    "new\nline and \t tab",
    '[object has missing required properties (["currency","items"])]',
    "non-ASCII: é 漢 😀",
]


def problems_in(resources: dict[str, Any]) -> list[str]:
    """Gateway responses that do not render to `{"message", "errors": [{"field", "problem"}]}`
    with an `X-Correlation-Id`, for any of `HARD_TEXT` as the error."""
    responses = GatewayResponses.from_template(resources)
    kinds = [
        r["Properties"]["ResponseType"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::GatewayResponse"
    ]
    problems = []
    for kind in kinds:
        for text in HARD_TEXT:
            rendered = responses.render(
                kind, request_id="req-1", request_headers={}, message=text, validation_error=text
            )
            try:
                body = json.loads(rendered.body)
            except ValueError:
                problems.append(f"{kind}: not JSON for {text!r}: {rendered.body[:120]!r}")
                continue
            shaped = (
                isinstance(body, dict) and isinstance(body.get("message"), str) and isinstance(body.get("errors"), list)
            )
            if not shaped or not all(set(error) == {"field", "problem"} for error in body["errors"]):
                problems.append(f"{kind}: not the error shape: {body}")
            if ("X-Correlation-Id", "req-1") not in rendered.headers:
                problems.append(f"{kind}: no X-Correlation-Id")
    return problems


@pytest.fixture
def synthesized(template: Template) -> dict[str, Any]:
    return copy.deepcopy(template.to_json())


def test_every_gateway_response_renders_valid_json_in_the_error_shape(synthesized: dict[str, Any]) -> None:
    types = {
        r["Properties"]["ResponseType"]
        for r in checks.resources(synthesized, "AWS::ApiGateway::GatewayResponse").values()
    }

    assert {
        "INVALID_API_KEY",
        "MISSING_AUTHENTICATION_TOKEN",
        "THROTTLED",
        "QUOTA_EXCEEDED",
        "BAD_REQUEST_PARAMETERS",
        "BAD_REQUEST_BODY",
    } <= types
    assert {"REQUEST_TOO_LARGE", "DEFAULT_4XX", "DEFAULT_5XX"} <= types
    assert problems_in(synthesized["Resources"]) == []


@pytest.mark.parametrize(
    "problem",
    [
        '"$context.error.validationErrorString"',  # raw text with quotes in it
        '"$util.escapeJavaScript($context.error.validationErrorString)"',  # no Velocity in gateway responses
    ],
)
def test_a_validation_string_in_a_template_is_caught(synthesized: dict[str, Any], problem: str) -> None:
    for response in checks.resources(synthesized, "AWS::ApiGateway::GatewayResponse").values():
        if response["Properties"]["ResponseType"] == "BAD_REQUEST_PARAMETERS":
            response["Properties"]["ResponseTemplates"]["application/json"] = (
                '{"message": "Invalid request", "errors": [{"field": "parameters", "problem": ' + problem + "}]}"
            )

    assert any(p.startswith("BAD_REQUEST_PARAMETERS: not JSON") for p in problems_in(synthesized["Resources"]))


def test_a_requoted_message_string_and_a_missing_header_are_caught(synthesized: dict[str, Any]) -> None:
    for response in checks.resources(synthesized, "AWS::ApiGateway::GatewayResponse").values():
        if response["Properties"]["ResponseType"] == "DEFAULT_4XX":
            response["Properties"]["ResponseTemplates"]["application/json"] = (
                '{"message": "$context.error.messageString"}'
            )
            response["Properties"]["ResponseParameters"] = {}

    problems = problems_in(synthesized["Resources"])

    assert any(p.startswith("DEFAULT_4XX: not JSON") for p in problems)
