"""Shared test set-up: a fake AWS environment (no credentials, no network) and Lambda contexts."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """With `-n 3 --dist loadgroup` (`make test`): the end-to-end package on two workers, each with
    a local cloud of its own (the saga's tests, which mostly wait out provider outages and
    deadlines, on one; the rest, the deployed-stage suite included, on the other), and everything
    else (the soak's cloud included) on the third."""
    for item in items:
        if item.nodeid.startswith("tests/e2e/test_saga.py"):
            group = "e2e-saga"
        elif item.nodeid.startswith("tests/e2e/"):
            group = "e2e"
        else:
            group = "rest"
        item.add_marker(pytest.mark.xdist_group(group))
