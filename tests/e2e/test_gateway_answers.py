"""What API Gateway answers by itself, through the local API rendering the template's gateway
responses: valid JSON in the function's error shape, with the correlation id header, and never
a 5xx for anything a client sends."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localcloud.api_client import call
from localcloud.cloud import LocalCloud
from tests.support.factories import order_request


def _problem(body: Any) -> tuple[str, list[dict[str, str]]]:
    assert isinstance(body, dict), body  # valid JSON, decoded
    assert set(body) == {"message", "errors"}, body
    assert all(set(error) == {"field", "problem"} for error in body["errors"]), body
    return body["message"], body["errors"]


def test_no_api_key_and_a_wrong_one_are_refused_in_the_error_shape(cloud: LocalCloud) -> None:
    missing = call(cloud.api.url, "GET", "/products")
    wrong = call(cloud.api.url, "GET", "/products", headers={"x-api-key": "not-a-key"})

    for answer in (missing, wrong):
        assert answer.status == 403
        assert _problem(answer.body) == (
            "Forbidden",
            [{"field": "x-api-key", "problem": "missing, or not a key of this API"}],
        )
        assert answer.headers["X-Correlation-Id"]
    assert cloud.api.request("GET", "/products").status == 200


def test_a_body_with_quotes_and_a_bad_currency_is_refused_naming_the_field(cloud: LocalCloud) -> None:
    """The function validates bodies, naming each field; quotes, apostrophes and backslashes in
    the input do not break the JSON of the answer."""
    body = order_request(customer_id='it\'s a "quoted" \\ name', currency="ZZZ")

    answer = cloud.api.request("POST", "/orders", body)

    assert answer.status == 422
    message, errors = _problem(answer.body)
    assert message == "Invalid request"
    assert [error["field"] for error in errors] == ["currency"]


def test_a_body_that_is_not_an_object_or_nests_too_deep_is_refused(cloud: LocalCloud) -> None:
    for raw in (b"{not json", b"[" * 5000 + b"]" * 5000, b'"just a string"'):
        answer = cloud.api.request("POST", "/orders", raw)

        assert answer.status == 422, raw[:20]
        assert _problem(answer.body)[0] == "Invalid request"
        assert answer.headers["X-Correlation-Id"]


def test_a_body_over_api_gateways_payload_limit_is_413(cloud: LocalCloud) -> None:
    answer = cloud.api.request("POST", "/orders", b"x" * (10 * 1024 * 1024 + 1))

    assert answer.status == 413
    assert _problem(answer.body) == ("Request body too large", [{"field": "body", "problem": "Request Too Long"}])


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(JSON.map(json.dumps), st.text(max_size=100)),
    path=st.sampled_from(["/orders", "/products", "/orders/x", "/nope", "/orders/x/y"]),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    key=st.booleans(),
)
def test_nothing_a_client_sends_gets_a_5xx(cloud: LocalCloud, body: str, path: str, method: str, key: bool) -> None:
    headers = {} if key else {"x-api-key": ""}
    answer = cloud.api.request(method, path, body.encode(), headers)

    assert answer.status < 500, (answer.status, answer.body)
    if answer.status >= 400:
        _problem(answer.body)
        assert answer.headers["X-Correlation-Id"]


def test_a_function_that_times_out_is_a_502_and_a_late_answer_a_504(cloud: LocalCloud) -> None:
    """The function's timeout (20 s) is shorter than API Gateway's integration timeout (29 s):
    its timing out is a function error to API Gateway (502). An answer that comes after the
    integration timeout is a 504, whatever it says (here: a route whose timeout is made 0)."""
    from dataclasses import replace

    from localcloud.faults import Fault

    cloud.runtime.faults.set([Fault(kind="timeout", target="OrdersApi", times=1)])
    try:
        timed_out = cloud.api.request("GET", "/products")
    finally:
        cloud.runtime.clear_faults()
    routes = list(cloud.api.routes)
    cloud.api.routes = [
        replace(route, integration_timeout_seconds=0.0) if route.resource == "/products" else route for route in routes
    ]
    try:
        late = cloud.api.request("GET", "/products")
    finally:
        cloud.api.routes = routes

    assert (timed_out.status, _problem(timed_out.body)[0]) == (502, "Internal server error")
    assert (late.status, _problem(late.body)[0]) == (504, "Timed out")
    assert timed_out.headers["X-Correlation-Id"]
    assert late.headers["X-Correlation-Id"]
    assert cloud.api.request("GET", "/products").status == 200


def test_any_method_on_any_path_is_answered_as_api_gateway_does(cloud: LocalCloud) -> None:
    """Not the local server's own page: API Gateway's answer for a method no route has (its
    `MISSING_AUTHENTICATION_TOKEN` response, a 404 in this template), in the error shape; a
    HEAD answer without its body."""
    for method in ("OPTIONS", "PROPFIND", "PATCH", "HEAD"):
        answer = cloud.api.request(method, "/orders")

        assert answer.status == 404, method
        assert answer.headers["Content-Type"] == "application/json"
        if method == "HEAD":
            assert answer.body == ""
            assert int(answer.headers["Content-Length"]) > 0  # the length of the body a GET would get
        else:
            assert _problem(answer.body)[1] == [{"field": "path", "problem": "no such route or method"}]


def test_a_body_that_is_not_utf8_reaches_the_function(cloud: LocalCloud) -> None:
    answer = cloud.api.request("POST", "/orders", b'\xff\xfe{"customer_id": "\xc3\x28"}')

    assert answer.status == 422  # the function's answer: the bad bytes arrived replaced, as text
    assert _problem(answer.body)[0] == "Invalid request"


def test_the_usage_plan_and_the_stage_throttling_come_from_the_template(cloud: LocalCloud) -> None:
    plan = cloud.api.usage_plans[cloud.api.api_key]

    assert plan.throttle is not None
    assert (plan.throttle.rate, plan.throttle.burst) == (50, 100)
    assert (plan.quota, plan.period) == (100_000, "DAY")
    assert cloud.api.stage_throttle == {"rate": 100, "burst": 200}  # for each method


def test_over_its_usage_plans_rate_or_quota_a_key_gets_429(cloud: LocalCloud) -> None:
    from localcloud.apigateway import Bucket, UsagePlan

    key = cloud.api.api_key
    template_plan = cloud.api.usage_plans[key]
    try:
        cloud.api.usage_plans[key] = UsagePlan(throttle=Bucket(rate=0.1, burst=2))
        throttled = [cloud.api.request("GET", "/products") for _ in range(3)]
        cloud.api.usage_plans[key] = UsagePlan(quota=1)
        quota = [cloud.api.request("GET", "/products") for _ in range(2)]
    finally:
        cloud.api.usage_plans[key] = template_plan

    assert [answer.status for answer in throttled] == [200, 200, 429]
    assert _problem(throttled[-1].body)[0] == "Too many requests"
    assert [answer.status for answer in quota] == [200, 429]
    assert _problem(quota[-1].body)[0] == "Quota exceeded"  # the template's QUOTA_EXCEEDED response
    assert cloud.api.request("GET", "/products").status == 200


def test_a_parameter_its_request_validator_requires_is_checked_before_the_function(cloud: LocalCloud) -> None:
    """The template's validator requires `order_id` (in the path, so always there) and leaves
    `Idempotency-Key` optional; a route that required the header is refused without it."""
    from dataclasses import replace

    by_route = {(route.method, route.resource): route for route in cloud.api.routes}
    assert by_route["GET", "/orders/{order_id}"].required_parameters == (("path", "order_id"),)
    assert by_route["POST", "/orders"].required_parameters == ()

    routes = list(cloud.api.routes)
    cloud.api.routes = [
        replace(route, required_parameters=(("header", "Idempotency-Key"),)) if route.method == "POST" else route
        for route in routes
    ]
    try:
        without = cloud.api.request("POST", "/orders", order_request())
        blank = cloud.api.request("POST", "/orders", order_request(), {"Idempotency-Key": " "})
    finally:
        cloud.api.routes = routes

    for answer in (without, blank):
        assert answer.status == 422  # the template's answer for BAD_REQUEST_PARAMETERS
        assert _problem(answer.body)[1] == [
            {"field": "parameters", "problem": "Missing required request parameters: [Idempotency-Key]"}
        ]
