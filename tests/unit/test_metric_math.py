"""The metric math the dashboards use, as CloudWatch evaluates it: missing values stay missing
through arithmetic, FILL replaces them, PERIOD is the period in seconds; the rest is refused."""

from __future__ import annotations

import pytest

from localcloud.metric_math import MathError, evaluate


def test_a_rate_per_second_fills_missing_periods_with_zero() -> None:
    assert evaluate("FILL(requests,0) / PERIOD(requests)", {"requests": [600.0, None, 30.0]}, 300) == [2.0, 0.0, 0.1]


def test_missing_values_and_division_by_zero_stay_missing() -> None:
    series = {"visible": [10.0, 5.0, None], "out": [4.0, 2.0, 1.0], "into": [2.0, 2.0, 1.0]}

    assert evaluate("(visible / (out - into)) * (PERIOD(out))", series, 60) == [300.0, None, None]


def test_precedence_and_unary_minus_are_arithmetics() -> None:
    assert evaluate("1 + 2 * a - -3", {"a": [2.0]}, 60) == [8.0]
    assert evaluate("(1 + 2) * a", {"a": [2.0]}, 60) == [6.0]


@pytest.mark.parametrize(
    ("expression", "refusal"),
    [("RATE(a)", "RATE is not evaluated locally"), ("a + b", "no query with id 'b'"), ("a +", "expected more")],
)
def test_what_cannot_be_evaluated_is_refused_by_name(expression: str, refusal: str) -> None:
    with pytest.raises(MathError, match=refusal):
        evaluate(expression, {"a": [1.0]}, 60)
