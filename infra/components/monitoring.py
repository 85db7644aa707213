"""Dashboard and alarms for the whole stack, with cdk-monitoring-constructs.

Everything is found from the construct tree — every function, every consumer queue with its
DLQ, the relay's stream, the state machine — so a new consumer is on the dashboard and alarmed
without touching this file. Alarms go to the alert topic; thresholds come from settings.

Alarms about something that matters the first time it happens (a message in a DLQ, a saga
failed or timed out, an order needing attention, a function error in the payment path) alarm on
one datapoint; the library's default (3 of 3 five-minute periods) would stay silent about a
single poison message.
"""

from __future__ import annotations

from typing import TypedDict

import cdk_monitoring_constructs as monitoring
from aws_cdk import Duration, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.components.messaging import QueueConsumer
from infra.settings import MonitoringSettings
from orderflow.contracts import METRICS_NAMESPACE, Metric, Service


class Evaluation(TypedDict, total=False):
    evaluation_periods: int
    datapoints_to_alarm: int


# Evaluate one period, alarm on one datapoint.
ONCE = Evaluation(evaluation_periods=1, datapoints_to_alarm=1)

# Business metrics the functions emit (Powertools EMF, one namespace): (title, [(service, metric)]).
BUSINESS_METRICS: list[tuple[str, list[tuple[Service, Metric]]]] = [
    (
        "Orders",
        [
            (Service.ORDERS_API, Metric.ORDERS_CREATED),
            (Service.ORDER_STEPS, Metric.ORDERS_CONFIRMED),
            (Service.ORDER_STEPS, Metric.ORDERS_CANCELLED),
            (Service.ORDER_STEPS, Metric.ORDERS_NEEDING_ATTENTION),
        ],
    ),
    (
        "Payments",
        [
            (Service.PAYMENTS, Metric.PAYMENTS_PAID),
            (Service.PAYMENTS, Metric.PAYMENTS_DECLINED),
            (Service.PAYMENTS, Metric.PAYMENT_GATEWAY_ERRORS),
            (Service.PAYMENTS, Metric.PAYMENTS_REJECTED_CIRCUIT_OPEN),
            (Service.PAYMENTS, Metric.PAYMENT_CIRCUIT_OPENED),
        ],
    ),
    (
        "Events",
        [
            (Service.OUTBOX_RELAY, Metric.EVENTS_PUBLISHED),
            (Service.HISTORY_PROJECTOR, Metric.DUPLICATES_SKIPPED),
            (Service.HISTORY_PROJECTOR, Metric.STALE_EVENTS_REJECTED),
            (Service.HISTORY_PROJECTOR, Metric.BATCH_ITEM_FAILURES),
        ],
    ),
]


def _metric(service: Service, name: Metric, statistic: str = "Sum") -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=str(name),
        dimensions_map={"service": str(service)},
        statistic=statistic,
        period=Duration.minutes(5),
    )


def _name(construct: Construct) -> str:
    """A unique readable name from the construct's path: `OrderHistory/Consumer/Function` ->
    `OrderHistory-Consumer`."""
    parts = construct.node.path.split("/")[1:]
    return "-".join(part for part in parts if part not in ("Function", "Resource")) or construct.node.id


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        api: apigateway.RestApi,
        relay: lambda_.IFunction,
        state_machine: sfn.IStateMachine,
        failure_queues: list[sqs.Queue],
        alerts: sns.ITopic,
        payment_path: list[lambda_.IFunction],
        settings: MonitoringSettings,
        prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._prefix = prefix
        self.facade = monitoring.MonitoringFacade(
            self,
            "Facade",
            alarm_factory_defaults=monitoring.AlarmFactoryDefaults(
                actions_enabled=True,
                alarm_name_prefix=prefix,
                action=monitoring.SnsAlarmActionStrategy(on_alarm_topic=alerts),
            ),
            metric_factory_defaults=monitoring.MetricFactoryDefaults(namespace=METRICS_NAMESPACE),
            dashboard_factory=monitoring.DefaultDashboardFactory(
                self, "Dashboards", dashboard_name_prefix=prefix, create_summary_dashboard=True
            ),
        )
        self.facade.monitor_api_gateway(
            api=api,
            human_readable_name="Orders API",
            alarm_friendly_name="OrdersApi",
            add5_xx_fault_rate_alarm={"Critical": monitoring.ErrorRateThreshold(max_error_rate=settings.api_5xx_rate)},
        )
        for function in sorted(
            (node for node in stack.node.find_all() if isinstance(node, lambda_.Function)), key=lambda f: f.node.path
        ):
            is_relay = function is relay
            once = ONCE if function in payment_path else Evaluation()
            self.facade.monitor_lambda_function(
                lambda_function=function,
                human_readable_name=_name(function),
                alarm_friendly_name=_name(function),
                add_fault_count_alarm={
                    "Critical": monitoring.ErrorCountThreshold(max_error_count=settings.function_errors, **once)
                },
                add_throttles_count_alarm={"Critical": monitoring.ErrorCountThreshold(max_error_count=0)},
                is_iterator=is_relay,
                add_max_iterator_age_alarm=(
                    {"Critical": monitoring.MaxAgeThreshold(max_age_in_millis=settings.relay_iterator_age_ms)}
                    if is_relay
                    else None
                ),
            )
        for consumer in sorted(
            (node for node in stack.node.find_all() if isinstance(node, QueueConsumer)), key=lambda c: c.node.path
        ):
            self.facade.monitor_sqs_queue_with_dlq(
                queue=consumer.queue,
                dead_letter_queue=consumer.dead_letter_queue,
                human_readable_name=consumer.node.id,
                alarm_friendly_name=consumer.node.id,
                add_queue_max_message_age_alarm={
                    "Warning": monitoring.MaxMessageAgeThreshold(max_age_in_seconds=settings.queue_max_age_seconds)
                },
                add_dead_letter_queue_max_size_alarm={
                    "Critical": monitoring.MaxMessageCountThreshold(max_message_count=0, **ONCE)
                },
            )
        for queue in failure_queues:
            # Where failed stream batches and rule deliveries land: anything here needs a look.
            self.facade.monitor_sqs_queue(
                queue=queue,
                human_readable_name=_name(queue),
                alarm_friendly_name=_name(queue),
                add_queue_max_size_alarm={"Critical": monitoring.MaxMessageCountThreshold(max_message_count=0, **ONCE)},
            )
        self.facade.monitor_step_function(
            state_machine=state_machine,
            human_readable_name="OrderFulfillment saga",
            add_failed_execution_count_alarm={"Critical": monitoring.ErrorCountThreshold(max_error_count=0, **ONCE)},
            add_timed_out_execution_count_alarm={"Critical": monitoring.ErrorCountThreshold(max_error_count=0, **ONCE)},
        )
        self.facade.monitor_custom(
            human_readable_name="Business",
            alarm_friendly_name="Business",
            metric_groups=[
                monitoring.CustomMetricGroup(title=title, metrics=[_metric(service, name) for service, name in metrics])
                for title, metrics in BUSINESS_METRICS
            ]
            + [
                monitoring.CustomMetricGroup(
                    title="Latency (ms)",
                    metrics=[
                        _metric(Service.ORDER_STEPS, Metric.SAGA_DURATION, "p99"),
                        _metric(Service.HISTORY_PROJECTOR, Metric.EVENT_AGE, "p99"),
                        _metric(Service.NOTIFIER, Metric.EVENT_AGE, "p99"),
                        _metric(Service.SHIPPING, Metric.EVENT_AGE, "p99"),
                    ],
                )
            ],
        )
        # The payment gateway's circuit opening is an incident of its own.
        self.circuit_open_alarm = self._at_first(
            "PaymentCircuitOpen",
            "The payment gateway's circuit opened: payments fail fast until it recovers",
            _metric(Service.PAYMENTS, Metric.PAYMENT_CIRCUIT_OPENED),
            alerts,
        )
        # A compensation failed: an order is stuck until a person looks at it.
        self.needs_attention_alarm = self._at_first(
            "OrderNeedsAttention",
            "An order is NEEDS_ATTENTION (a compensation failed): see its SystemAlert and runbook",
            _metric(Service.ORDER_STEPS, Metric.ORDERS_NEEDING_ATTENTION),
            alerts,
        )

    def alarms_of(self, function: lambda_.Function) -> list[cloudwatch.IAlarm]:
        """The alarms this construct made on `function` (its errors, its throttles, ...)."""
        prefix = f"{self._prefix}-{_name(function)}-"
        return [alarm.alarm for alarm in self.facade.created_alarms() if alarm.alarm_name.startswith(prefix)]

    def _at_first(
        self, construct_id: str, description: str, metric: cloudwatch.Metric, alerts: sns.ITopic
    ) -> cloudwatch.Alarm:
        """An alarm on the first occurrence of a business metric within a minute, to the alert topic."""
        name = "".join(f"-{char.lower()}" if char.isupper() else char for char in construct_id).lstrip("-")
        alarm = cloudwatch.Alarm(
            self,
            construct_id,
            alarm_name=f"{self._prefix}-{name}",
            alarm_description=description,
            metric=metric.with_(period=Duration.minutes(1)),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            **ONCE,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(alerts))
        return alarm
