"""Infrastructure tests: one synthesis of the real app per session (asset bundling skipped)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import build
from infra.stack import OrderflowStack

# Skip Docker-free layer bundling in tests: the asset is referenced, not built.
NO_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}


@pytest.fixture(scope="session")
def app_and_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[cdk.App, OrderflowStack]]:
    app = cdk.App(context=NO_BUNDLING, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    return app, build(app)


@pytest.fixture(scope="session")
def template(app_and_stack: tuple[cdk.App, OrderflowStack]) -> Template:
    return Template.from_stack(app_and_stack[1])


@pytest.fixture(scope="session")
def resources(template: Template) -> dict[str, dict[str, Any]]:
    return dict(template.to_json()["Resources"])


def of_type(resources: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in resources.items() if resource["Type"] == kind}
