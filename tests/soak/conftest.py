"""One small chaos soak on a local cloud of its own, shared by the soak's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcloud.cloud import LocalCloud, LocalCloudConfig, running
from localcloud.soak import checker, run
from localcloud.soak.report import Report

ORDERS = 24


@pytest.fixture(scope="package")
def cloud() -> Iterator[LocalCloud]:
    with running(LocalCloudConfig(moto_port=0, api_port=0)) as local:
        yield local


@pytest.fixture(scope="package")
def soaked(cloud: LocalCloud) -> tuple[Report, checker.Evidence]:
    return run.run_on(cloud, run.Soak(orders=ORDERS, clients=3, settle_seconds=5), say=lambda _: None)


@pytest.fixture(scope="package")
def report(soaked: tuple[Report, checker.Evidence]) -> Report:
    return soaked[0]


@pytest.fixture(scope="package")
def evidence(soaked: tuple[Report, checker.Evidence]) -> checker.Evidence:
    return soaked[1]
