"""The orders REST API: request validation, API key + usage plan, throttling, access logs,
tracing, and JSON error bodies that name the problem."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.components.gateway_answers import GATEWAY_ANSWERS
from infra.components.security import LogGroups
from infra.settings import ApiSettings
from orderflow.contracts import Route


def _gateway_path(resolver_path: str) -> list[str]:
    """`/orders/<order_id>` (resolver syntax) -> `["orders", "{order_id}"]`."""
    return [f"{{{part[1:-1]}}}" if part.startswith("<") else part for part in resolver_path.strip("/").split("/")]


class OrdersApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler: lambda_.IFunction,
        settings: ApiSettings,
        log_groups: LogGroups,
        prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = log_groups.create(self, "AccessLogs")
        self.api = apigateway.RestApi(
            self,
            "Api",
            # Named after the stage: API Gateway's metrics (and the alarms on them) are keyed by
            # the API's name, which must not merge with another API in the account.
            rest_api_name=f"{prefix}-orders",
            description="orderflow orders API",
            cloud_watch_role=settings.create_cloudwatch_role,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN if settings.create_cloudwatch_role else None,
            deploy_options=apigateway.StageOptions(
                stage_name=settings.stage_name,
                tracing_enabled=True,
                metrics_enabled=True,
                logging_level=apigateway.MethodLoggingLevel.INFO,
                data_trace_enabled=False,
                throttling_rate_limit=settings.throttling_rate_limit,
                throttling_burst_limit=settings.throttling_burst_limit,
                access_log_destination=apigateway.LogGroupLogDestination(self.access_logs),
                access_log_format=apigateway.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
            ),
            default_method_options=apigateway.MethodOptions(api_key_required=True),
        )
        for answer in GATEWAY_ANSWERS:
            self.api.add_gateway_response(
                answer.type.response_type,
                type=answer.type,
                status_code=str(answer.status) if answer.status else None,
                templates={"application/json": answer.template()},
                response_headers={Route.CORRELATION_HEADER: "context.requestId"},
            )
        # The gateway checks the request's parameters; the function checks the body against the
        # order model and names each field and problem. (A body validator here could only answer
        # "Invalid request body": gateway responses substitute variables and cannot escape the
        # validator's message into JSON, so its detail would be lost, or break the JSON.)
        validator = self.api.add_request_validator("ParameterValidator", validate_request_parameters=True)
        integration = apigateway.LambdaIntegration(handler, proxy=True)

        self.api.root.resource_for_path("/".join(_gateway_path(Route.PRODUCTS))).add_method("GET", integration)
        orders = self.api.root.resource_for_path("/".join(_gateway_path(Route.ORDERS)))
        self.create_order = orders.add_method(
            "POST",
            integration,
            request_validator=validator,
            request_parameters={f"method.request.header.{Route.IDEMPOTENCY_HEADER}": False},
        )
        self.api.root.resource_for_path("/".join(_gateway_path(Route.ORDER))).add_method(
            "GET",
            integration,
            request_validator=validator,
            request_parameters={f"method.request.path.{Route.ORDER_PATH_PARAMETER}": True},
        )

        self.api_key = self.api.add_api_key("ClientKey", description="orderflow client key")
        plan = self.api.add_usage_plan(
            "UsagePlan",
            description="Per-client limits",
            throttle=apigateway.ThrottleSettings(
                rate_limit=settings.usage_plan_rate_limit, burst_limit=settings.usage_plan_burst_limit
            ),
            quota=apigateway.QuotaSettings(limit=settings.usage_plan_daily_quota, period=apigateway.Period.DAY),
        )
        plan.add_api_key(self.api_key)
        plan.add_api_stage(stage=self.api.deployment_stage)
