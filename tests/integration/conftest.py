"""Integration tests: the real handlers on moto, against the stack's own resources (the synthesized
template, provisioned as the local cloud provisions it)."""

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

from localcloud import moto_fixes
from localcloud.synth import ensure_synthesized
from orderflow.settings import load
from tests.support.aws import REGION, Clients, Resources, provision_stack

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE_FILE = ROOT / "infra" / "seed" / "catalogue.json"


@pytest.fixture(scope="session")
def template() -> Path:
    """The stack's template, synthesized as for the local cloud (again only when a source changed)."""
    return ensure_synthesized(ROOT / ".local" / "cdk.out")


@pytest.fixture(scope="session")
def clients() -> Clients:
    return Clients(boto3)


@pytest.fixture
def aws(template: Path, clients: Clients, monkeypatch: pytest.MonkeyPatch) -> Iterator[Resources]:
    """The stack on moto as the local cloud runs moto: DynamoDB transactions that conflict and
    isolate, SQS receives that are atomic (`localcloud.moto_fixes`), so a race the handlers must
    survive on AWS can happen here too."""
    moto_fixes.apply_all()
    with mock_aws():
        resources = provision_stack(clients, template)
        for name, value in resources.environment.items():
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
