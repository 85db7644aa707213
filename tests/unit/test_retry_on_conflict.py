"""A read-decide-write use case run again while what it read changes under it, with a growing,
jittered pause between runs."""

from __future__ import annotations

import pytest

from orderflow.domain.errors import ConcurrentUpdate
from orderflow.services.unit_of_work import BACKOFF_CAP_SECONDS, retry_on_conflict


class UseCase:
    """Meets `conflicts` concurrent updates, then decides `answer`."""

    def __init__(self, conflicts: int, answer: str = "decided") -> None:
        self.runs = 0
        self._conflicts = conflicts
        self._answer = answer

    def __call__(self) -> str:
        self.runs += 1
        if self.runs <= self._conflicts:
            raise ConcurrentUpdate("order-1")
        return self._answer


def test_each_conflict_is_followed_by_a_longer_jittered_pause_then_a_fresh_run() -> None:
    use_case, sleeps, bounds = UseCase(conflicts=3), [], []

    def jitter(low: float, high: float) -> float:
        bounds.append((low, high))
        return high / 2

    answer = retry_on_conflict(use_case, sleep=sleeps.append, jitter=jitter)

    assert (answer, use_case.runs) == ("decided", 4)
    assert len(sleeps) == 3
    assert all(low == 0 for low, _ in bounds)
    assert bounds[0][1] < bounds[1][1] < bounds[2][1] <= BACKOFF_CAP_SECONDS


def test_a_conflict_that_lasts_is_the_answer_of_the_last_run() -> None:
    use_case, sleeps = UseCase(conflicts=10), []

    with pytest.raises(ConcurrentUpdate):
        retry_on_conflict(use_case, attempts=3, sleep=sleeps.append)

    assert use_case.runs == 3
    assert len(sleeps) == 2


def test_no_conflict_no_pause() -> None:
    sleeps: list[float] = []

    assert retry_on_conflict(UseCase(conflicts=0), sleep=sleeps.append) == "decided"
    assert sleeps == []
