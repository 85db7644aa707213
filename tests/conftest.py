"""Shared test set-up: a fake AWS environment (no credentials, no network) and Lambda contexts."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.aws import REGION

# A fake AWS environment, except for `make e2e STAGE=<a deployed stage>` (tests/e2e/deployed), which
# runs with the caller's own credentials and region.
if os.environ.get("ORDERFLOW_STAGE", "local") == "local":
    os.environ.update(
        {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            # botocore 1.44 sends DynamoDB Streams calls to an account-id endpoint moto does not serve.
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_DEV": "0",
        }
    )
    os.environ.pop("AWS_PROFILE", None)


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:test-function"
    log_group_name: str = "/aws/lambda/test-function"
    log_stream_name: str = "test"
    remaining_millis: int = 20_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_millis


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


def cloud_group(nodeid: str) -> str | None:
    """The local cloud a test runs on, when it shares one with other tests: the end-to-end package
    (the deployed-stage suite included), the saga's end-to-end tests (which mostly wait out
    provider outages and deadlines) and the soak each start one."""
    if nodeid.startswith("tests/e2e/test_saga.py"):
        return "e2e-saga"
    if nodeid.startswith("tests/e2e/"):
        return "e2e"
    if nodeid.startswith("tests/soak/"):
        return "soak"
    return None


@pytest.hookimpl(optionalhook=True)  # xdist's hook; `-p no:xdist` runs do not know it
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With `-n 3 --dist loadgroup` (`make test`): each cloud's tests on one worker, so each cloud
    starts once, and every other test on whichever worker is free.

    Made here rather than with `xdist_group` marks: xdist 3.8 groups marked tests by renaming
    their node ids, which pytest 9's node ids ignore, so the marks group nothing."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class CloudGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return cloud_group(nodeid) or nodeid

    return CloudGroups(config, log)
