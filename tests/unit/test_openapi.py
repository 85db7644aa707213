from __future__ import annotations

import json

import pytest

from functions.orders_api.openapi import DOCUMENT, generate
from orderflow.domain.orders import PRINTABLE


@pytest.fixture(scope="module", autouse=True)
def _handler_imported() -> None:
    """The document comes from the handler's routes; importing the handler creates the X-Ray
    SDK's UDP emitter socket (no traffic), which the unit tests' socket guard refuses. Module
    scope: imported before the guard is up."""
    generate()


def test_committed_openapi_document_matches_the_code() -> None:
    # `make openapi` regenerates it; a route or model change without it fails here.
    assert DOCUMENT.read_text() == generate()


def test_openapi_document_describes_the_three_routes() -> None:
    paths = json.loads(DOCUMENT.read_text())["paths"]

    assert set(paths) == {"/products", "/orders", "/orders/{order_id}"}
    assert "post" in paths["/orders"]
    assert "get" in paths["/orders/{order_id}"]


def test_every_operation_lists_every_status_it_can_answer_with_the_problem_shape() -> None:
    """API Gateway's own answers (403 key, 413 size, 429 rate and quota, 502/504 a failed or
    late function) on every operation, and each operation's own."""
    paths = json.loads(DOCUMENT.read_text())["paths"]
    expected = {
        ("/products", "get"): {"200", "403", "413", "422", "429", "502", "504"},
        ("/orders", "post"): {"202", "403", "409", "413", "422", "429", "502", "503", "504"},
        ("/orders/{order_id}", "get"): {"200", "403", "404", "413", "422", "429", "502", "504"},
    }
    for (path, method), statuses in expected.items():
        responses = paths[path][method]["responses"]
        assert set(responses) == statuses, (path, method)
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_the_document_says_every_call_needs_the_api_key() -> None:
    document = json.loads(DOCUMENT.read_text())

    assert document["security"] == [{"apiKey": []}]
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
    }


def test_identifiers_are_printable_and_bounded_in_the_document() -> None:
    place = json.loads(DOCUMENT.read_text())["components"]["schemas"]["PlaceOrder"]["properties"]

    for name in ("customer_id", "payment_token"):
        assert (place[name]["maxLength"], place[name]["pattern"]) == (128, PRINTABLE)
