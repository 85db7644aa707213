"""End-to-end tests: the whole flow through one local cloud shared by the e2e package
(moto server and API on free ports, functions in worker processes)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from localcloud.api_client import Answer
from localcloud.cloud import LocalCloud, LocalCloudConfig, running


@pytest.fixture(scope="package")
def cloud() -> Iterator[LocalCloud]:
    # CloudWatch 300 times faster than AWS (a 5-minute period is a second): the alarm tests
    # follow an alarm through OK, ALARM and OK again in seconds.
    with running(LocalCloudConfig(moto_port=0, api_port=0, cloudwatch_time_scale=300.0)) as local:
        local.seed()
        yield local


@pytest.fixture
def api(cloud: LocalCloud) -> Any:
    def request(method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Answer:
        return cloud.api.request(method, path, body, headers)

    return request


def deployed_stage() -> str | None:
    """The deployed stage `make e2e STAGE=...` runs `tests/e2e/deployed` against, or None for
    the local cloud (then no other AWS account or credentials are involved)."""
    name = os.environ.get("ORDERFLOW_STAGE", "local")
    return None if name == "local" else name


@pytest.fixture(autouse=True)
def _report_poller_errors(request: pytest.FixtureRequest) -> Iterator[None]:
    """A poller that fails (not a function: the poller itself) is a local cloud defect."""
    if deployed_stage() is not None:  # against a deployment: no local cloud to watch
        yield
        return
    cloud: LocalCloud = request.getfixturevalue("cloud")
    before = len([1 for kind, _ in list(cloud.activity.reports) if kind == "poller_error"])
    yield
    errors = [d for kind, d in list(cloud.activity.reports) if kind == "poller_error"][before:]
    assert errors == [], errors


@pytest.fixture(autouse=True)
def _report_access_denials(request: pytest.FixtureRequest) -> Iterator[None]:
    """The template grants every function what it does: a call AWS would deny fails the test
    (a test that takes a permission away on purpose is marked `denials_expected`)."""
    if deployed_stage() is not None:
        yield
        return
    cloud: LocalCloud = request.getfixturevalue("cloud")
    before = len(cloud.access.denials)
    yield
    if request.node.get_closest_marker("denials_expected") is None:
        denials = cloud.access.denials[before:]
        assert denials == [], [denial.message for denial in denials]
