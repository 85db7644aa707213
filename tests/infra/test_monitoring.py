"""Dashboards and alarms cover the whole stack, computed from the template: a new function or
queue without them fails here."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from tests.infra.conftest import of_type

Resources = dict[str, dict[str, Any]]


def _dashboard_text(resources: Resources) -> str:
    """Every dashboard body, intrinsics included, as one searchable text."""
    return json.dumps(
        [d["Properties"]["DashboardBody"] for d in of_type(resources, "AWS::CloudWatch::Dashboard").values()]
    )


def _alarms(resources: Resources) -> list[dict[str, Any]]:
    return [alarm["Properties"] for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values()]


def _dimension_refs(alarm: dict[str, Any]) -> str:
    """What an alarm's metric points at (its dimensions, or its metric math), as text."""
    return json.dumps(alarm.get("Dimensions", [])) + json.dumps(alarm.get("Metrics", []))


def _metric_names(alarm: dict[str, Any]) -> set[str]:
    """The metrics an alarm watches (a plain metric, or the metrics of its math expression)."""
    names = {alarm["MetricName"]} if "MetricName" in alarm else set()
    return names | {m["MetricStat"]["Metric"]["MetricName"] for m in alarm.get("Metrics", []) if "MetricStat" in m}


def _dead_letter_queues(resources: Resources) -> set[str]:
    queues = of_type(resources, "AWS::SQS::Queue")
    targets = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in queues.values()
        if "RedrivePolicy" in q["Properties"]
    }
    standalone = {lid for lid in queues if "Failures" in lid}  # stream and rule-target failure destinations
    return targets | standalone


def test_the_dashboard_shows_every_function_and_every_queue(resources: Resources) -> None:
    text = _dashboard_text(resources)

    missing_functions = [lid for lid in of_type(resources, "AWS::Lambda::Function") if f'"Ref": "{lid}"' not in text]
    missing_queues = [lid for lid in of_type(resources, "AWS::SQS::Queue") if f'"{lid}"' not in text]

    assert missing_functions == []
    assert missing_queues == []


def test_every_dead_letter_queue_alarms_when_not_empty(resources: Resources) -> None:
    alarms = _alarms(resources)
    for dlq in _dead_letter_queues(resources):
        assert any(
            dlq in _dimension_refs(alarm)
            and "ApproximateNumberOfMessagesVisible" in _metric_names(alarm)
            and alarm["Threshold"] == 0
            for alarm in alarms
        ), dlq


def test_every_consumer_queue_alarms_on_the_age_of_its_oldest_message(resources: Resources) -> None:
    queues = of_type(resources, "AWS::SQS::Queue")
    consumers = [lid for lid, q in queues.items() if "RedrivePolicy" in q["Properties"]]
    alarms = _alarms(resources)
    for queue in consumers:
        assert any(
            queue in _dimension_refs(alarm) and "ApproximateAgeOfOldestMessage" in _metric_names(alarm)
            for alarm in alarms
        ), queue


def test_every_function_alarms_on_errors_and_throttles(resources: Resources) -> None:
    alarms = _alarms(resources)
    for function in of_type(resources, "AWS::Lambda::Function"):
        watched = set().union(*(_metric_names(alarm) for alarm in alarms if function in _dimension_refs(alarm)))
        assert {"Errors", "Throttles"} <= watched, function


def test_the_relay_alarms_on_iterator_age_and_the_api_on_5xx(resources: Resources) -> None:
    watched = set().union(*(_metric_names(alarm) for alarm in _alarms(resources)))
    assert {"IteratorAge", "5XXError"} <= watched


def test_the_payment_circuit_opening_alarms(resources: Resources) -> None:
    assert any("PaymentCircuitOpened" in _metric_names(alarm) for alarm in _alarms(resources))


def test_every_alarm_notifies_the_alert_topic(resources: Resources) -> None:
    (alerts,) = [lid for lid in of_type(resources, "AWS::SNS::Topic") if "Alerts" in lid]
    for alarm in _alarms(resources):
        assert alarm.get("AlarmActions") == [{"Ref": alerts}], alarm.get("AlarmName")


def _alert_topic(settings: Any) -> Template:
    import aws_cdk as cdk
    from aws_cdk import aws_kms as kms

    from infra.components.alerting import AlertTopic

    stack = cdk.Stack(cdk.App(), "AlertsOnly")
    AlertTopic(stack, "Alerts", key=kms.Key(stack, "Key"), settings=settings, retain=False)
    return Template.from_stack(stack)


def test_people_and_endpoints_subscribe_to_alerts_from_context() -> None:
    from infra.settings import AlertSettings

    template = _alert_topic(AlertSettings(emails=("ops@example.com",), urls=("https://hooks.example.com/orderflow",)))

    subscriptions = template.find_resources("AWS::SNS::Subscription")
    assert sorted((s["Properties"]["Protocol"], s["Properties"]["Endpoint"]) for s in subscriptions.values()) == [
        ("email", "ops@example.com"),
        ("https", "https://hooks.example.com/orderflow"),
    ]


def test_an_alert_address_that_is_not_one_is_refused_at_synth() -> None:
    from infra.settings import AlertSettings

    with pytest.raises(ValueError, match="must be an https:// URL"):
        _alert_topic(AlertSettings(urls=("http://hooks.example.com/orderflow",)))
    with pytest.raises(ValueError, match="is not an e-mail address"):
        _alert_topic(AlertSettings(emails=("ops-at-example.com",)))
