#!/usr/bin/env python3
"""CDK entry point: builds the orderflow stack with cdk-nag (AwsSolutions) checking every synth."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "layers" / "shared" / "python"))

import aws_cdk as cdk  # noqa: E402

from infra.nag import add_nag_checks  # noqa: E402
from infra.settings import OrderflowSettings  # noqa: E402
from infra.stack import OrderflowStack  # noqa: E402


def build(app: cdk.App) -> OrderflowStack:
    stack_name = app.node.try_get_context("stack_name") or "orderflow"
    # `-c profile=local`: the same stack with waits in seconds (the local cloud and tests).
    if app.node.try_get_context("profile") == "local":
        settings = OrderflowSettings.local(stack_name=stack_name)
    else:
        settings = OrderflowSettings(
            stack_name=stack_name, retain_data=app.node.try_get_context("retain_data") != "false"
        )
    stack = OrderflowStack(app, stack_name, settings=settings, description="orderflow: event-driven order processing")
    add_nag_checks(app, stack)
    return stack


if __name__ == "__main__":
    application = cdk.App()
    build(application)
    application.synth()
