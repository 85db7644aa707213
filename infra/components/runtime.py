"""Lambda layers and the function construct every orderflow function is built with."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from aws_cdk import BundlingOptions, Duration
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.components.bundling import PipLayerBundling
from infra.components.security import LogGroups
from infra.settings import FunctionSettings
from orderflow.contracts import METRICS_NAMESPACE, Service

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE = lambda_.Architecture.X86_64
ASSET_EXCLUDES = ["**/__pycache__", "**/*.pyc", "openapi.json", "openapi.py"]
LIVE = "live"  # the alias every caller invokes (event sources, the API, the saga)


class Layers(Construct):
    """`orderflow` (our shared package) and its third-party dependencies, as two layers so the
    code layer stays small and the dependencies layer changes only when requirements do."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        requirements = ROOT / "layers" / "dependencies" / "requirements.txt"
        self.dependencies = lambda_.LayerVersion(
            self,
            "Dependencies",
            description="Powertools, pydantic (boto3 comes with the runtime)",
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            code=lambda_.Code.from_asset(
                str(requirements.parent),
                bundling=BundlingOptions(
                    image=RUNTIME.bundling_image,
                    local=PipLayerBundling(requirements, ROOT / ".build" / "wheels"),
                ),
            ),
        )
        self.shared = lambda_.LayerVersion(
            self,
            "Shared",
            description="orderflow shared package",
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            # The operator CLI (orderflow.ops) runs on operators' machines, not in functions.
            code=lambda_.Code.from_asset(
                str(ROOT / "layers" / "shared"), exclude=[*ASSET_EXCLUDES, "python/orderflow/ops"]
            ),
        )

    @property
    def all(self) -> list[lambda_.ILayerVersion]:
        return [self.dependencies, self.shared]


class OrderflowFunction(Construct):
    """A function from `functions/<name>/handler.py`: Python 3.13, active tracing, its own log
    group with retention (no `Custom::LogRetention`), Powertools configured by environment.

    Each change publishes a version, and callers invoke the `live` alias, never the function
    itself: a production stage shifts the alias to a new version gradually and moves it back
    when an alarm fires (CodeDeploy, `infra/components/rollout.py`)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name: str,
        description: str,
        layers: Layers,
        settings: FunctionSettings,
        log_groups: LogGroups,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = log_groups.create(self, "Logs")
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="handler.handler",
            code=lambda_.Code.from_asset(str(ROOT / "functions" / name), exclude=ASSET_EXCLUDES),
            layers=layers.all,
            memory_size=settings.memory_mb,
            timeout=Duration.seconds(settings.timeout_seconds),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={
                "POWERTOOLS_SERVICE_NAME": str(Service.of(name)),
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
                "POWERTOOLS_LOG_LEVEL": "INFO",
                **(environment or {}),
            },
        )
        self.timeout = Duration.seconds(settings.timeout_seconds)
        self.alias = lambda_.Alias(self, "Live", alias_name=LIVE, version=self.function.current_version)
