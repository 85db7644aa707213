"""The soak's alarm check: a queue that received dead letters must have had its alarm fire,
counted from the queues, not from CloudWatch (planted both ways)."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace
from typing import Any

from localcloud.cloudwatch import Alarm
from localcloud.soak.report import Report
from localcloud.soak.run import _silent_alarms


def _cloud() -> Any:
    alarm = Alarm.from_properties(
        "history-dlq",
        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:history-dlq",
        {
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": "history-dlq.fifo"}],
            "Statistic": "Maximum",
            "Period": 300,
            "ComparisonOperator": "GreaterThanThreshold",
            "Threshold": 0,
            "EvaluationPeriods": 1,
        },
    )
    return SimpleNamespace(cloudwatch=SimpleNamespace(alarms={alarm.name: alarm}))


def test_dead_letters_without_their_alarm_firing_are_a_violation() -> None:
    (violation,) = _silent_alarms(_cloud(), {"history-dlq.fifo": 2}, [(1.0, "history-dlq", "INSUFFICIENT_DATA", "OK")])

    assert violation == "history-dlq.fifo received 2 message(s) but its alarm (history-dlq) never fired"


def test_dead_letters_whose_alarm_fired_are_not() -> None:
    fired = [(1.0, "history-dlq", "INSUFFICIENT_DATA", "OK"), (9.0, "history-dlq", "OK", "ALARM")]

    assert _silent_alarms(_cloud(), {"history-dlq.fifo": 2}, fired) == []
    assert _silent_alarms(_cloud(), {}, []) == []


def test_the_report_lists_every_transition_and_counts_alarms() -> None:
    transitions = [(1.0, "a", "INSUFFICIENT_DATA", "OK"), (9.5, "a", "OK", "ALARM"), (20.0, "a", "ALARM", "OK")]
    report = Report(
        seed=7, orders=1, statuses=Counter(), faults=Counter(), faulted_share=0.0, invocations=1, retries=Counter(),
        payments=Counter(), peak_depth=Counter(), dead_lettered={}, redriven=0, violations=[],
        alarm_transitions=transitions,
    )  # fmt: skip

    assert report.details()[:3] == [
        "ALARM     1.0 s  a: INSUFFICIENT_DATA -> OK",
        "ALARM     9.5 s  a: OK -> ALARM",
        "ALARM    20.0 s  a: ALARM -> OK",
    ]
    (row,) = [line for line in report.table().splitlines() if "alarms that went to ALARM" in line]
    assert row.endswith("| a 1x |")
