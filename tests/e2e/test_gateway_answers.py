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
