"""CloudWatch metric math, the part the template's dashboards use: numbers, the ids of other
queries, `+ - * /`, parentheses, `FILL(series, value)` and `PERIOD(series)` (CloudWatch User
Guide, "Using math expressions with CloudWatch metrics"). A series is one value per period, None
where the period has no datapoint; arithmetic with a missing value is missing, as in CloudWatch,
and a division by zero is missing too. Anything else is refused by name (`MathError`), so a
widget says what it cannot show instead of showing something wrong. No maintained Python library
evaluates CloudWatch's expression language, hence this small parser.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

Series = list[float | None]

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z_0-9]*)|(.))")


class MathError(ValueError):
    pass


def _tokens(expression: str) -> list[str]:
    tokens = []
    for number, name, symbol in _TOKEN.findall(expression):
        token = number or name or symbol
        if token.strip():
            tokens.append(token)
    return tokens


def evaluate(expression: str, series: Mapping[str, Series], period: int) -> Series:
    """The expression's series, from the series of the ids it names (all of one length)."""
    length = len(next(iter(series.values()))) if series else 0
    parser = _Parser(_tokens(expression), series, period, length)
    result = parser.expression()
    if parser.position != len(parser.tokens):
        raise MathError(f"unexpected {parser.tokens[parser.position]!r} in {expression!r}")
    return result


def _combine(left: Series, right: Series, operation: Callable[[float, float], float | None]) -> Series:
    return [None if a is None or b is None else operation(a, b) for a, b in zip(left, right, strict=True)]


def _divide(a: float, b: float) -> float | None:
    return None if b == 0 else a / b


OPERATIONS: dict[str, Callable[[float, float], float | None]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": _divide,
}


class _Parser:
    def __init__(self, tokens: list[str], series: Mapping[str, Series], period: int, length: int) -> None:
        self.tokens, self.series, self.period, self.length = tokens, series, period, length
        self.position = 0

    def _peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> str:
        token = self._peek()
        if token is None or (expected is not None and token != expected):
            raise MathError(f"expected {expected or 'more'}, found {token!r}")
        self.position += 1
        return token

    def expression(self) -> Series:
        result = self.term()
        while self._peek() in ("+", "-"):
            operator = self._take()
            result = _combine(result, self.term(), OPERATIONS[operator])
        return result

    def term(self) -> Series:
        result = self.factor()
        while self._peek() in ("*", "/"):
            operator = self._take()
            result = _combine(result, self.factor(), OPERATIONS[operator])
        return result

    def factor(self) -> Series:
        part = self._take()
        if part == "(":
            inner = self.expression()
            self._take(")")
            return inner
        if part == "-":
            return [None if value is None else -value for value in self.factor()]
        if re.fullmatch(r"\d+(?:\.\d+)?", part):
            return [float(part)] * self.length
        if self._peek() == "(":
            return self.function(part)
        if part not in self.series:
            raise MathError(f"no query with id {part!r}")
        return list(self.series[part])

    def function(self, name: str) -> Series:
        self._take("(")
        argument = self.expression()
        if name == "FILL":
            self._take(",")
            filler = self.expression()
            self._take(")")
            return [f if value is None else value for value, f in zip(argument, filler, strict=True)]
        self._take(")")
        if name == "PERIOD":
            return [float(self.period)] * self.length
        raise MathError(f"function {name} is not evaluated locally (FILL and PERIOD are)")
