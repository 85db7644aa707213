"""Gradual rollouts in production: CodeDeploy moves each function's `live` alias to a new
version a tenth of the traffic at a time, and back when one of the alarms the stack already has
on that function fires (its errors, its throttles, for the relay its iterator age)."""

from __future__ import annotations

from aws_cdk import aws_codedeploy as codedeploy
from constructs import Construct

from infra.components.monitoring import Monitoring
from infra.components.runtime import OrderflowFunction

# 10% of invocations on the new version for 5 minutes, then all: long enough for a
# one-datapoint alarm on errors to fire before the rest of the traffic moves.
CONFIG = codedeploy.LambdaDeploymentConfig.CANARY_10_PERCENT_5_MINUTES


class Rollouts(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, monitoring: Monitoring, prefix: str) -> None:
        super().__init__(scope, construct_id)
        self.application = codedeploy.LambdaApplication(self, "Application", application_name=prefix)
        self.groups: dict[str, codedeploy.LambdaDeploymentGroup] = {}
        functions = sorted(
            (node for node in scope.node.find_all() if isinstance(node, OrderflowFunction)), key=lambda f: f.node.path
        )
        for function in functions:
            alarms = monitoring.alarms_of(function.function)
            if not alarms:
                raise ValueError(f"{function.node.path}: no alarm to roll a deployment back on")
            self.groups[function.node.path] = codedeploy.LambdaDeploymentGroup(
                function,
                "Rollout",
                application=self.application,
                alias=function.alias,
                deployment_config=CONFIG,
                alarms=alarms,
                auto_rollback=codedeploy.AutoRollbackConfig(deployment_in_alarm=True, failed_deployment=True),
            )
