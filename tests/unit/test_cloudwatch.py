"""The local CloudWatch: datapoints kept per second and aggregated per period, embedded metric
format lines read, and alarms evaluated as the CloudWatch User Guide describes (statistic per
period, M out of N, each way of treating missing data), notifying their actions on a change."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from localcloud.cloudwatch import ALARM, INSUFFICIENT_DATA, OK, Alarm, CloudWatch, Metrics, emf_datapoints, evaluate

ARN = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:dlq"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:alerts"


def _alarm(**overrides: Any) -> Alarm:
    props: dict[str, Any] = {
        "Metrics": [
            {
                "Id": "m1",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SQS",
                        "MetricName": "ApproximateNumberOfMessagesVisible",
                        "Dimensions": [{"Name": "QueueName", "Value": "orders-dlq"}],
                    },
                    "Period": 300,
                    "Stat": "Maximum",
                },
                "ReturnData": True,
            }
        ],
        "ComparisonOperator": "GreaterThanThreshold",
        "Threshold": 0,
        "EvaluationPeriods": 1,
        "DatapointsToAlarm": 1,
        "TreatMissingData": "missing",
        "AlarmActions": [TOPIC],
    }
    return Alarm.from_properties("dlq", ARN, {**props, **overrides})


def test_one_breaching_period_of_one_alarms_with_cloudwatchs_reason() -> None:
    state, reason = evaluate(_alarm(), [1.0], OK)

    assert state == ALARM
    assert reason == (
        "Threshold Crossed: 1 out of the last 1 datapoints [1] was greater than the threshold (0) "
        "(minimum 1 datapoint(s) for OK -> ALARM transition)."
    )
    assert evaluate(_alarm(), [0.0], ALARM)[0] == OK


def test_m_out_of_n_needs_m_breaching_periods() -> None:
    alarm = _alarm(EvaluationPeriods=3, DatapointsToAlarm=2)

    assert evaluate(alarm, [1.0, 0.0, 1.0], OK)[0] == ALARM
    assert evaluate(alarm, [1.0, 0.0, 0.0], OK)[0] == OK


@pytest.mark.parametrize(
    ("treatment", "current", "expected"),
    [
        ("missing", OK, INSUFFICIENT_DATA),
        ("ignore", ALARM, ALARM),
        ("ignore", OK, OK),
        ("notBreaching", ALARM, OK),
        ("breaching", OK, ALARM),
    ],
)
def test_periods_without_data_are_treated_as_the_alarm_says(treatment: str, current: str, expected: str) -> None:
    alarm = _alarm(EvaluationPeriods=3, DatapointsToAlarm=3, TreatMissingData=treatment)

    assert evaluate(alarm, [None, None, None], current)[0] == expected


def test_missing_periods_left_out_do_not_count_as_breaching() -> None:
    alarm = _alarm(EvaluationPeriods=3, DatapointsToAlarm=2, TreatMissingData="missing")

    assert evaluate(alarm, [None, 1.0, None], OK)[0] == OK
    assert evaluate(alarm, [1.0, None, 1.0], OK)[0] == ALARM
    assert (
        evaluate(_alarm(EvaluationPeriods=3, DatapointsToAlarm=2, TreatMissingData="breaching"), [None, 1.0, 0.0], OK)[
            0
        ]
        == ALARM
    )


def test_the_comparison_is_the_alarms() -> None:
    alarm = _alarm(ComparisonOperator="GreaterThanOrEqualToThreshold", Threshold=5)

    assert evaluate(alarm, [5.0], OK)[0] == ALARM
    assert evaluate(_alarm(ComparisonOperator="LessThanThreshold", Threshold=5), [5.0], OK)[0] == OK


def test_an_alarm_given_without_a_metric_query_is_read_as_well() -> None:
    alarm = Alarm.from_properties(
        "circuit",
        ARN,
        {
            "Namespace": "orderflow",
            "MetricName": "PaymentCircuitOpened",
            "Dimensions": [{"Name": "service", "Value": "payments"}],
            "Statistic": "Sum",
            "Period": 60,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 1,
            "EvaluationPeriods": 1,
            "TreatMissingData": "notBreaching",
        },
    )

    assert alarm.metric == ("orderflow", "PaymentCircuitOpened", (("service", "payments"),))
    assert (alarm.statistic, alarm.period, alarm.datapoints_to_alarm) == ("Sum", 60, 1)


@pytest.mark.parametrize(
    ("overrides", "refusal"),
    [
        ({"Metrics": [{"Id": "e1", "Expression": "m1 + m2"}]}, "metric math"),
        (
            {
                "Metrics": [
                    {
                        "Id": "m1",
                        "MetricStat": {"Metric": {"Namespace": "n", "MetricName": "m"}, "Period": 60, "Stat": "tm99"},
                    }
                ]
            },
            "'tm99' is not evaluated locally",
        ),
    ],
)
def test_what_is_not_evaluated_locally_is_refused_by_name(overrides: dict[str, Any], refusal: str) -> None:
    with pytest.raises(ValueError, match=refusal):
        _alarm(**overrides)


def test_datapoints_aggregate_per_period_as_cloudwatch_does() -> None:
    metrics = Metrics()
    key = ("AWS/Lambda", "Duration", (("FunctionName", "f"),))
    for second, value in ((100, 10.0), (100, 30.0), (101, 50.0), (105, 7.0)):
        metrics.put("AWS/Lambda", "Duration", {"FunctionName": "f"}, value, at=second)

    assert metrics.statistic(key, 100, 105, "Sum") == 90.0  # a period of 5 seconds from 100: [100, 105)
    assert metrics.statistic(key, 100, 105, "Average") == 30.0
    assert metrics.statistic(key, 100, 105, "Maximum") == 50.0
    assert metrics.statistic(key, 100, 105, "SampleCount") == 3.0
    assert metrics.statistic(key, 101, 106, "Sum") == 57.0
    assert metrics.statistic(key, 102, 105, "Sum") is None  # no datapoint: missing, not zero
    assert metrics.statistic(("AWS/Lambda", "Duration", ()), 100, 106, "Sum") is None  # other dimensions


def test_datapoints_are_kept_per_cloudwatch_second() -> None:
    metrics = Metrics(time_scale=60.0)  # a local second is a CloudWatch minute
    key = ("AWS/Lambda", "Errors", (("FunctionName", "f"),))
    metrics.put("AWS/Lambda", "Errors", {"FunctionName": "f"}, 1, at=10.5)  # CloudWatch second 630

    assert metrics.statistic(key, 600, 630, "Sum") is None
    assert metrics.statistic(key, 630, 631, "Sum") == 1.0


def test_embedded_metric_format_lines_give_one_datapoint_per_dimension_set() -> None:
    entry = {
        "_aws": {
            "Timestamp": 1,
            "CloudWatchMetrics": [
                {
                    "Namespace": "orderflow",
                    "Dimensions": [["service"]],
                    "Metrics": [{"Name": "OrdersPlaced", "Unit": "Count"}, {"Name": "Latency", "Unit": "Milliseconds"}],
                }
            ],
        },
        "service": "orders-api",
        "OrdersPlaced": 1.0,
        "Latency": [3.0, 4.0, float("nan"), float("inf"), True],  # CloudWatch takes finite numbers only
    }

    assert emf_datapoints(entry) == [
        ("orderflow", "OrdersPlaced", {"service": "orders-api"}, 1.0),
        ("orderflow", "Latency", {"service": "orders-api"}, 3.0),
        ("orderflow", "Latency", {"service": "orders-api"}, 4.0),
    ]


@dataclass
class RecordingCloudWatchApi:
    """moto's CloudWatch as the local CloudWatch uses it: alarm states set, metrics copied."""

    states: list[tuple[str, str]] = field(default_factory=list)
    data: list[dict[str, Any]] = field(default_factory=list)

    def set_alarm_state(self, **request: Any) -> None:
        self.states.append((request["AlarmName"], request["StateValue"]))

    def put_metric_data(self, **request: Any) -> None:
        self.data.append(request)


@dataclass
class Sqs:
    visible: int = 0
    executions: list[tuple[str, str, str]] = field(default_factory=list)
    pruned: list[float] = field(default_factory=list)

    def gauges(self) -> Mapping[str, tuple[int, float]]:
        return {"orders-dlq": (self.visible, 0.0)}


def _cloudwatch(
    api: RecordingCloudWatchApi, sqs: Sqs, published: list[tuple[str, str, str]], refuse: bool = False
) -> CloudWatch:
    def publish(alarm: Alarm, topic: str, subject: str, message: str) -> None:
        if refuse:
            raise PermissionError("AuthorizationError: not authorized to perform: sns:Publish")
        published.append((topic, subject, message))

    return CloudWatch(
        [_alarm()],
        client=api,
        publish=publish,
        gauges=sqs.gauges,
        executions=lambda: sqs.executions,
        report=lambda kind, details: None,
        prune=sqs.pruned.append,
        region="eu-west-1",
        account="123456789012",
        time_scale=60.0,
    )


def test_a_message_in_the_dlq_alarms_and_notifies_the_topic_then_clears() -> None:
    api, sqs, published = RecordingCloudWatchApi(), Sqs(), []
    cloudwatch = _cloudwatch(api, sqs, published)

    for second in range(1000, 1003):  # a tick a local second, each a CloudWatch minute
        cloudwatch.tick(now=float(second))
    sqs.visible = 1
    cloudwatch.tick(now=1003.0)  # sampled; in the period evaluated at the next tick
    assert api.states == [("dlq", OK)]
    cloudwatch.tick(now=1004.0)
    assert api.states == [("dlq", OK), ("dlq", ALARM)]
    sqs.visible = 0
    for second in range(1005, 1011):  # until the 5-second (local) period no longer holds it
        cloudwatch.tick(now=float(second))

    assert api.states == [("dlq", OK), ("dlq", ALARM), ("dlq", OK)]
    ((topic, subject, message),) = published  # only ALARM has actions
    notification = json.loads(message)
    assert (topic, subject) == (TOPIC, 'ALARM: "dlq" in eu-west-1')
    assert (notification["OldStateValue"], notification["NewStateValue"], notification["AlarmArn"]) == (OK, ALARM, ARN)
    (query,) = notification["Trigger"]["Metrics"]  # an alarm on a metric query is notified in that form
    assert query["MetricStat"]["Metric"]["Dimensions"] == [{"value": "orders-dlq", "name": "QueueName"}]
    assert (query["MetricStat"]["Period"], query["MetricStat"]["Stat"]) == (300, "Maximum")
    copied = {d["MetricName"] for request in api.data for d in request["MetricData"]}
    assert copied == {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"}


def test_a_refused_notification_is_recorded_undelivered_and_evaluation_goes_on() -> None:
    api, sqs, published = RecordingCloudWatchApi(), Sqs(visible=1), []
    cloudwatch = _cloudwatch(api, sqs, published, refuse=True)

    cloudwatch.tick(now=1000.0)
    cloudwatch.tick(now=1001.0)
    sqs.visible = 0
    for second in range(1002, 1008):
        cloudwatch.tick(now=float(second))

    assert api.states == [("dlq", ALARM), ("dlq", OK)]
    (notification,) = cloudwatch.notifications
    assert notification["delivered"] is False
    assert "sns:Publish" in notification["error"]


def test_executions_are_counted_once_per_status_they_reach() -> None:
    api, sqs = RecordingCloudWatchApi(), Sqs()
    cloudwatch = _cloudwatch(api, sqs, [])
    machine = "arn:aws:states:eu-west-1:123456789012:stateMachine:saga"

    sqs.executions = [(machine, "e1", "RUNNING")]
    cloudwatch.tick(now=1000.0)
    cloudwatch.tick(now=1001.0)
    sqs.executions = [(machine, "e1", "FAILED"), (machine, "e2", "SUCCEEDED")]
    cloudwatch.tick(now=1002.0)

    def total(name: str) -> float | None:
        return cloudwatch.metrics.statistic(("AWS/States", name, (("StateMachineArn", machine),)), 0, 10**9, "Sum")

    assert (total("ExecutionsStarted"), total("ExecutionsFailed"), total("ExecutionsSucceeded")) == (2.0, 1.0, 1.0)


def test_percentiles_are_nearest_rank_over_the_periods_values() -> None:
    metrics = Metrics()
    key = ("AWS/Lambda", "Duration", (("FunctionName", "f"),))
    for value in range(1, 101):
        metrics.put("AWS/Lambda", "Duration", {"FunctionName": "f"}, float(value), at=100 + value % 3)

    assert metrics.statistic(key, 100, 103, "p50") == 50.0
    assert metrics.statistic(key, 100, 103, "p99") == 99.0
    assert metrics.periods(key, 100, 1, 4, "SampleCount") == [33.0, 34.0, 33.0, None]


def test_a_dashboard_widget_is_its_metrics_per_period_with_its_expressions() -> None:
    body = {
        "widgets": [
            {"type": "text", "x": 0, "y": 0, "width": 24, "height": 1, "properties": {"markdown": "### API"}},
            {
                "type": "metric",
                "x": 0,
                "y": 1,
                "width": 6,
                "height": 5,
                "properties": {
                    "view": "timeSeries",
                    "title": "TPS",
                    "metrics": [
                        [{"label": "Count/s", "expression": "FILL(requests,0) / PERIOD(requests)"}],
                        [
                            "AWS/ApiGateway",
                            "Count",
                            "ApiName",
                            "orders",
                            "Stage",
                            "prod",
                            {"id": "requests", "visible": False, "stat": "Sum"},
                        ],
                    ],
                },
            },
        ]
    }
    api, sqs = RecordingCloudWatchApi(), Sqs()
    cloudwatch = CloudWatch(
        [],
        client=api,
        publish=lambda *_: None,
        gauges=sqs.gauges,
        executions=lambda: [],
        report=lambda kind, details: None,
        prune=sqs.pruned.append,
        region="eu-west-1",
        account="123456789012",
        time_scale=60.0,
        dashboards={"orderflow": body},
    )
    for second in (1000.0, 1000.5, 1002.0):  # CloudWatch seconds 60000, 60030 and 60120
        cloudwatch.metrics.put("AWS/ApiGateway", "Count", {"ApiName": "orders", "Stage": "prod"}, 1, at=second)

    text, graph = cloudwatch.dashboard("orderflow", start=1000.0, end=1015.0)

    assert text == {"type": "text", "x": 0, "y": 0, "width": 24, "height": 1, "title": "", "markdown": "### API"}
    assert (graph["x"], graph["y"], graph["width"], graph["height"], graph["title"]) == (0, 1, 6, 5, "TPS")
    assert graph["times"] == [1000.0, 1005.0, 1010.0]  # 300-second periods, 5 local seconds each
    (rate,) = graph["series"]  # the Count query is not visible
    assert rate["label"] == "Count/s"
    assert rate["values"] == [3 / 300, 0.0, 0.0]
    assert graph["errors"] == []


def test_a_label_shows_its_dynamic_values_over_the_range() -> None:
    from localcloud.cloudwatch import _label

    assert _label("P50 (avg: ${AVG}, max: ${MAX})", [1.0, None, 3.0]) == "P50 (avg: 2, max: 3)"
    assert _label("Faults (${SUM})", [None, None]) == "Faults (-)"


def test_a_late_sample_stands_for_the_minutes_it_missed() -> None:
    api, sqs = RecordingCloudWatchApi(), Sqs(visible=2)
    cloudwatch = _cloudwatch(api, sqs, [])
    key = ("AWS/SQS", "ApproximateNumberOfMessagesVisible", (("QueueName", "orders-dlq"),))

    cloudwatch.tick(now=1000.0)
    cloudwatch.tick(now=1004.0)  # the machine was busy: three CloudWatch minutes without a sample

    assert cloudwatch.metrics.periods(key, 60000, 60, 5, "SampleCount") == [1.0, 1.0, 1.0, 1.0, 1.0]
