"""`make test`'s scheduling (tests/conftest.py): each local cloud's tests go to one worker, so
each cloud starts once, and the other tests to whichever worker is free."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from tests.conftest import pytest_xdist_make_scheduler

COLLECTION = [
    "tests/e2e/deployed/test_stage.py::test_a_good_card_ships",
    "tests/e2e/test_order_flow.py::test_create_then_ship",
    "tests/e2e/test_order_flow.py::test_unknown_sku",
    "tests/e2e/test_saga.py::test_outage_ridden_out",
    "tests/e2e/test_saga.py::test_deadline_passed",
    "tests/e2e/test_saga.py::test_declined",
    "tests/infra/test_stack.py::test_encrypted",
    "tests/integration/test_orders_api.py::test_create",
    "tests/soak/test_checker.py::test_charged_twice",
    "tests/soak/test_checker.py::test_oversold",
    "tests/soak/test_soak.py::test_every_invariant_holds",
    "tests/unit/test_events.py::test_round_trip",
]


class _Config:
    option = SimpleNamespace(loadscopereorder=True)

    def __init__(self, dist: str) -> None:
        self._values = {"dist": dist, "tx": ["3*popen"]}

    def getvalue(self, name: str) -> Any:
        return self._values[name]


class _Worker:
    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.shutting_down = False
        self.sent: list[int] = []

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent += indices

    def shutdown(self) -> None:
        self.shutting_down = True


def _first_assignment() -> dict[str, set[str]]:
    scheduler = pytest_xdist_make_scheduler(_Config("loadgroup"), log=None)
    workers = [_Worker(f"gw{n}") for n in range(3)]
    for worker in workers:
        scheduler.add_node(worker)
    for worker in workers:
        scheduler.add_node_collection(worker, COLLECTION)
    scheduler.schedule()
    return {worker.gateway.id: {COLLECTION[i] for i in worker.sent} for worker in workers}


def test_each_clouds_tests_start_on_one_worker_of_their_own() -> None:
    by_group: defaultdict[str, set[str]] = defaultdict(set)
    for worker, tests in _first_assignment().items():
        for test in tests:
            group = "e2e-saga" if "test_saga" in test else test.split("/")[1]
            by_group[group].add(worker)

    assert {group: len(workers) for group, workers in by_group.items() if group in ("e2e", "e2e-saga", "soak")} == {
        "e2e": 1,
        "e2e-saga": 1,
        "soak": 1,
    }
    assert len(by_group["e2e"] | by_group["e2e-saga"] | by_group["soak"]) == 3


def test_the_other_tests_wait_for_whichever_worker_is_free_first() -> None:
    assigned = set().union(*_first_assignment().values())

    assert not assigned & {test for test in COLLECTION if test.startswith(("tests/infra", "tests/integration"))}


def test_other_distributions_keep_xdists_scheduler() -> None:
    assert pytest_xdist_make_scheduler(_Config("load"), log=None) is None
