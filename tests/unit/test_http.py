from __future__ import annotations

import json

import pytest

from orderflow.http import MAX_NESTING, field_path, nesting, refused_before_parsing, validation_errors


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (("body", "items", 0, "quantity"), "items[0].quantity"),
        (("body", "currency"), "currency"),
        (("body",), "body"),
        (("header", "Idempotency-Key"), "Idempotency-Key"),
    ],
)
def test_field_path(location: tuple[str | int, ...], expected: str) -> None:
    assert field_path(location) == expected


def test_validation_errors_name_the_field_and_the_problem_without_the_input() -> None:
    errors = [
        {
            "loc": ("body", "items", 1, "quantity"),
            "type": "greater_than_equal",
            "msg": "Input should be >= 1",
            "input": 0,
        },
        {"loc": ("body", "debug"), "type": "extra_forbidden", "msg": "Extra inputs are not permitted", "input": "x"},
        {"loc": ("body", 0), "type": "json_invalid", "msg": "JSON decode error", "input": "{"},
    ]

    assert validation_errors(errors) == [
        {"field": "items[1].quantity", "problem": "Input should be >= 1"},
        {"field": "debug", "problem": "unknown field"},
        {"field": "body", "problem": "must be a JSON object"},
    ]


def test_oversized_body_gets_a_413_before_parsing() -> None:
    answer = refused_before_parsing({"body": "x" * 2048}, 1024)

    assert answer is not None
    assert answer["statusCode"] == 413
    assert "at most 1024 bytes" in answer["body"]
    assert refused_before_parsing({"body": "{}"}, 1024) is None
    assert refused_before_parsing({"body": None}, 1024) is None


def test_deep_nesting_gets_a_422_before_any_parser_sees_it() -> None:
    body = "[" * 5000 + "]" * 5000
    answer = refused_before_parsing({"body": body, "headers": {"X-Correlation-Id": "c-1"}}, 16_384)

    assert answer is not None
    assert answer["statusCode"] == 422
    assert answer["headers"]["X-Correlation-Id"] == "c-1"
    assert json.loads(answer["body"])["errors"] == [
        {"field": "body", "problem": f"nested deeper than {MAX_NESTING} levels"}
    ]


def test_nesting_counts_brackets_outside_strings_only() -> None:
    assert nesting('{"items": [{"sku": "[[[{{{"}]}') == 3
    assert nesting('"\\\\"[') == 1  # an escaped backslash: the string closes, then [
    assert nesting('"\\"[') == 0  # an escaped quote: the [ is inside the string
    assert nesting("not json at all") == 0
