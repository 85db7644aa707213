"""Integration tests: the real handlers on moto, with resources named as the stack names them."""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from orderflow.settings import load
from tests.support.aws import REGION, Resources, create_resources

CATALOGUE_FILE = Path(__file__).resolve().parents[2] / "infra" / "seed" / "catalogue.json"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Resources]:
    with mock_aws():
        resources = create_resources(boto3)
        for name, value in resources.environment().items():
            monkeypatch.setenv(name, value)
        load.cache_clear()
        yield resources
    load.cache_clear()


@pytest.fixture
def seeded(aws: Resources) -> Resources:
    from infra.seed.__main__ import seed

    seed(aws.catalogue_table)
    return aws


@pytest.fixture
def handler_module(aws: Resources) -> Callable[[str], ModuleType]:
    """Import a function's handler afresh, so its module-level clients bind to this mock."""

    def load_handler(name: str) -> ModuleType:
        module = f"functions.{name}.handler"
        sys.modules.pop(module, None)
        return importlib.import_module(module)

    return load_handler


@pytest.fixture
def dynamodb(aws: Resources) -> Any:
    return boto3.client("dynamodb", region_name=REGION)


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])
