#!/usr/bin/env python3
"""CDK entry point: builds the orderflow stack with cdk-nag (AwsSolutions) checking every synth."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "layers" / "shared" / "python"))

import aws_cdk as cdk  # noqa: E402

from infra.nag import add_nag_checks  # noqa: E402
from infra.settings import AlertSettings, ApiSettings, OrderflowSettings  # noqa: E402
from infra.stack import OrderflowStack  # noqa: E402


def _listed(app: cdk.App, name: str) -> tuple[str, ...]:
    """A comma-separated context value (`-c alert_email=a@example.com,b@example.com`)."""
    return tuple(part.strip() for part in str(app.node.try_get_context(name) or "").split(",") if part.strip())


def build(app: cdk.App) -> OrderflowStack:
    stack_name = app.node.try_get_context("stack_name") or "orderflow"
    alerts = AlertSettings(emails=_listed(app, "alert_email"), urls=_listed(app, "alert_url"))
    api = ApiSettings(create_cloudwatch_role=app.node.try_get_context("api_cloudwatch_role") in (True, "true"))
    # `-c profile=local`: the same stack with waits in seconds (the local cloud and tests).
    if app.node.try_get_context("profile") == "local":
        settings = OrderflowSettings.local(stack_name=stack_name, alerts=alerts, api=api)
    else:
        settings = OrderflowSettings(
            stack_name=stack_name,
            alerts=alerts,
            api=api,
            retain_data=app.node.try_get_context("retain_data") != "false",
        )
    stack = OrderflowStack(app, stack_name, settings=settings, description="orderflow: event-driven order processing")
    add_nag_checks(app, stack)
    return stack


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    application.synth()
