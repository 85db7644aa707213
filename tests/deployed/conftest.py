"""The end-to-end tests that run against any deployed stage (`make e2e STAGE=...`), finding it
through its stacks' outputs. With `ORDERFLOW_STAGE` unset or `local` they run against a local
cloud of their own (`make test` does): the very same code path, since the local cloud publishes
its stacks' outputs as CloudFormation does."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.deployed.stage import Stage, timeout_for

PRODUCTION = "prod"


@pytest.fixture(scope="package")
def stage() -> Iterator[Stage]:
    name = os.environ.get("ORDERFLOW_STAGE", "local")
    if name == PRODUCTION:
        pytest.exit("the end-to-end suite places orders with test cards: run it against a non-production stage", 2)
    if name != "local":
        yield Stage.discover(name, None, timeout=timeout_for(name))
        return
    from localcloud.cloud import LocalCloudConfig, running

    with running(LocalCloudConfig(moto_port=0, api_port=0)) as cloud:
        cloud.seed()
        yield Stage.discover(name, cloud.endpoint, timeout=timeout_for(name))
