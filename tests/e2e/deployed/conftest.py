"""The end-to-end tests that run against any deployed stage (`make e2e STAGE=...`), finding it
through its stacks' outputs. With `ORDERFLOW_STAGE` unset or `local` they run against the
end-to-end package's local cloud (`make test` does, `make e2e STAGE=local` too): the very same
code path, since the local cloud publishes its stacks' outputs as CloudFormation does."""

from __future__ import annotations

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.e2e.conftest import deployed_stage
from tests.e2e.deployed.stage import Stage, timeout_for

PRODUCTION = "prod"


@pytest.fixture(scope="package")
def stage(request: pytest.FixtureRequest) -> Stage:
    name = deployed_stage()
    if name == PRODUCTION:
        pytest.exit("the end-to-end suite places orders with test cards: run it against a non-production stage", 2)
    if name is not None:
        try:
            return Stage.discover(name, None, timeout=timeout_for(name))
        except (BotoCoreError, ClientError) as error:
            pytest.exit(f"stage {name}: its stacks orderflow-{name}-data and -app could not be read ({error})", 2)
    cloud = request.getfixturevalue("cloud")  # found through its outputs like any deployment
    return Stage.discover("local", cloud.endpoint, timeout=timeout_for("local"))
