"""Infrastructure tests: one synthesis of the real app per session (asset bundling skipped), for
the production stage (the strictest: data retained, termination protection, a configured payment
provider). `template` is both stacks merged as CloudFormation resolves them (the app stack's
imports replaced by what the data stack exports, `localcloud/assembly.py`), so an assertion about
the system holds whichever stack a resource lives in; `stack_templates` are the two as deployed."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import build
from infra.stack import AppStack, DataStack
from infra.synthesis import context
from localcloud.assembly import merge

# Production (the strictest stage), as `infra.synthesis` synthesizes it for the tools.
APP_CONTEXT: dict[str, Any] = context("prod")


@pytest.fixture(scope="session")
def app_and_stacks(tmp_path_factory: pytest.TempPathFactory) -> tuple[cdk.App, DataStack, AppStack]:
    app = cdk.App(context=APP_CONTEXT, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    data, application = build(app)
    return app, data, application


@pytest.fixture(scope="session")
def stack_templates(app_and_stacks: tuple[cdk.App, DataStack, AppStack]) -> dict[str, dict[str, Any]]:
    _, data, application = app_and_stacks
    return {stack.stack_name: Template.from_stack(stack).to_json() for stack in (data, application)}


@pytest.fixture(scope="session")
def template(stack_templates: dict[str, dict[str, Any]]) -> Template:
    return Template.from_json(merge(list(stack_templates.items())))


@pytest.fixture(scope="session")
def resources(template: Template) -> dict[str, dict[str, Any]]:
    return dict(template.to_json()["Resources"])


def of_type(resources: dict[str, dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in resources.items() if resource["Type"] == kind}
