"""The local API's rendering of API Gateway's gateway responses: variable substitution only (no
Velocity, as on AWS), `$context.error.*` as API Gateway fills it, and the fallbacks between
response types."""

from __future__ import annotations

import json

from localcloud.gateway_responses import GatewayResponse, GatewayResponses


def _responses(**templates: str) -> GatewayResponses:
    return GatewayResponses(
        {
            kind: GatewayResponse(
                status=422,
                templates={"application/json": template},
                parameters={"gatewayresponse.header.X-Id": "context.requestId"},
            )
            for kind, template in templates.items()
        }
    )


def test_a_template_is_rendered_with_the_error_and_the_request_id() -> None:
    responses = _responses(
        BAD_REQUEST_PARAMETERS='{"message": $context.error.messageString, "id": "$context.requestId"}'
    )

    rendered = responses.render("BAD_REQUEST_PARAMETERS", request_id="r-1", request_headers={})

    assert rendered.status == 422
    assert json.loads(rendered.body) == {"message": "Invalid request parameters", "id": "r-1"}
    assert ("X-Id", "r-1") in rendered.headers


def test_velocity_is_not_evaluated_as_on_aws() -> None:
    """A gateway response template only has its variables substituted: Velocity directives and
    `$util` calls come out as written (and break the JSON around them)."""
    responses = _responses(DEFAULT_4XX='{"message": "#set($x = 1)$util.escapeJavaScript($context.requestId)"}')

    rendered = responses.render("INVALID_API_KEY", request_id="r-1", request_headers={})

    assert rendered.body == b'{"message": "#set($x = 1)$util.escapeJavaScript(r-1)"}'


def test_a_quoted_message_string_is_invalid_json_as_on_aws() -> None:
    """`messageString` is already quoted: quoting it again breaks the JSON."""
    responses = _responses(DEFAULT_4XX='{"message": "$context.error.messageString"}')

    rendered = responses.render("INVALID_API_KEY", request_id="r", request_headers={})

    assert rendered.body == b'{"message": ""Forbidden""}'


def test_without_a_response_of_its_own_a_type_takes_its_class_default_and_its_own_status() -> None:
    responses = _responses(DEFAULT_4XX='{"message": $context.error.messageString}')

    rendered = responses.render("THROTTLED", request_id="r", request_headers={})

    assert (rendered.status, json.loads(rendered.body)) == (429, {"message": "Too Many Requests"})


def test_with_no_template_at_all_the_answer_is_api_gateways_plain_message() -> None:
    rendered = GatewayResponses({}).render("MISSING_AUTHENTICATION_TOKEN", request_id="r", request_headers={})

    assert (rendered.status, json.loads(rendered.body)) == (403, {"message": "Missing Authentication Token"})
