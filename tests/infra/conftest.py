"""Infrastructure tests: one synthesis of the real app per session (asset bundling skipped)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import build
from infra.stack import OrderflowStack

# The app's own feature flags (cdk.json), and no layer bundling: the asset is referenced, not built.
APP_CONTEXT: dict[str, Any] = {
    **json.loads((Path(__file__).resolve().parents[2] / "cdk.json").read_text())["context"],
    "aws:cdk:bundling-stacks": [],
}


@pytest.fixture(scope="session")
def app_and_stack(tmp_path_factory: pytest.TempPathFactory) -> tuple[cdk.App, OrderflowStack]:
    app = cdk.App(context=APP_CONTEXT, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    return app, build(app)


@pytest.fixture(scope="session")
def template(app_and_stack: tuple[cdk.App, OrderflowStack]) -> Template:
    return Template.from_stack(app_and_stack[1])


@pytest.fixture(scope="session")
def resources(template: Template) -> dict[str, dict[str, Any]]:
    return dict(template.to_json()["Resources"])


def of_type(resources: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in resources.items() if resource["Type"] == kind}
