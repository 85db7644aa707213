from __future__ import annotations

import pytest

from orderflow.http import field_path, oversized, validation_errors


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
    answer = oversized({"body": "x" * 2048}, 1024)

    assert answer is not None
    assert answer["statusCode"] == 413
    assert "at most 1024 bytes" in answer["body"]
    assert oversized({"body": "{}"}, 1024) is None
    assert oversized({"body": None}, 1024) is None
