#!/usr/bin/env python3
"""CDK entry point: builds a stage's two stacks (`-c stage=NAME`) with cdk-nag (AwsSolutions) checking every synth."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "layers" / "shared" / "python"))

import aws_cdk as cdk  # noqa: E402

from infra.nag import add_nag_checks  # noqa: E402
from infra.settings import AlertSettings, ApiSettings, OrderflowSettings, PaymentSettings  # noqa: E402
from infra.stack import AppStack, DataStack  # noqa: E402


def _listed(app: cdk.App, name: str) -> tuple[str, ...]:
    """A comma-separated context value (`-c alert_email=a@example.com,b@example.com`)."""
    return tuple(part.strip() for part in str(app.node.try_get_context(name) or "").split(",") if part.strip())


def build(app: cdk.App) -> tuple[DataStack, AppStack]:
    """The two stacks of the stage `-c stage=NAME` (default `dev`): `orderflow-<stage>-data` and
    `orderflow-<stage>-app`, each with the stage's settings (`OrderflowSettings.for_stage`)."""
    stage = str(app.node.try_get_context("stage") or "dev")
    overrides: dict[str, object] = {
        "alerts": AlertSettings(emails=_listed(app, "alert_email"), urls=_listed(app, "alert_url")),
        "api": ApiSettings(create_cloudwatch_role=app.node.try_get_context("api_cloudwatch_role") in (True, "true")),
        "payments": PaymentSettings(
            provider=str(app.node.try_get_context("payment_provider") or "simulated"),
            url=str(app.node.try_get_context("payment_provider_url") or ""),
            secret_arn=str(app.node.try_get_context("payment_provider_secret") or ""),
        ),
    }
    if app.node.try_get_context("retain_data") is not None:
        overrides["retain_data"] = app.node.try_get_context("retain_data") not in (False, "false")
    settings = OrderflowSettings.for_stage(stage, **overrides)
    data = DataStack(
        app,
        settings.data_stack_name,
        settings=settings,
        description=f"orderflow {stage}: data (tables, queues, topic, bus)",
    )
    application = AppStack(
        app,
        settings.app_stack_name,
        data=data,
        settings=settings,
        description=f"orderflow {stage}: functions, API, saga, rules, alarms",
    )
    for stack in (data, application):
        cdk.Tags.of(stack).add("orderflow:stage", stage)
    add_nag_checks(app, data, application)
    return data, application


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    application.synth()
