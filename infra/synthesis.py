"""Synthesizing a stage in this process, for the tools that read templates (the AsyncAPI
generator, the replacement guard) and the infrastructure tests. No asset bundling: assets are
referenced, not built."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# A production stage needs a configured payment provider; to read its templates (never to deploy
# them), these stand in for one.
EXAMPLE_PROVIDER = {
    "payment_provider": "http",
    "payment_provider_url": "https://payments.example.com/v1",
    "payment_provider_secret": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:payment-provider-AbCdEf",
}


def context(stage: str) -> dict[str, Any]:
    """The app's feature flags (cdk.json), no bundling, the stage (and a provider for prod)."""
    flags = json.loads((ROOT / "cdk.json").read_text())["context"]
    return {**flags, "aws:cdk:bundling-stacks": [], "stage": stage, **(EXAMPLE_PROVIDER if stage == "prod" else {})}


def templates(stage: str) -> list[tuple[str, dict[str, Any]]]:
    """The stage's stacks and their templates, in deployment order (data, then app)."""
    import aws_cdk as cdk

    from app import build

    with tempfile.TemporaryDirectory() as outdir:
        app = cdk.App(context=context(stage), outdir=outdir)
        stacks = build(app)
        assembly = app.synth()
        return [(stack.stack_name, dict(assembly.get_stack_by_name(stack.stack_name).template)) for stack in stacks]


def production_data_template() -> dict[str, Any]:
    return templates("prod")[0][1]
