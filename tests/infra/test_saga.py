"""The OrderFulfillment state machine and the rules around it, from the synthesized template."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template
from statelint.linter import Linter

from tests.infra.conftest import of_type

Resources = dict[str, dict[str, Any]]


def _placeholder(value: Any) -> str:
    """A stand-in for an intrinsic inside the definition (a function ARN, a queue URL)."""
    if isinstance(value, dict):
        name = value.get("Ref") or value.get("Fn::GetAtt", ["resource"])[0]
        return f"arn:aws:lambda:eu-west-1:123456789012:function:{name}"
    return str(value)


@pytest.fixture(scope="module")
def definition(resources: Resources) -> dict[str, Any]:
    (machine,) = of_type(resources, "AWS::StepFunctions::StateMachine").values()
    separator, parts = machine["Properties"]["DefinitionString"]["Fn::Join"]
    return dict(json.loads(separator.join(_placeholder(part) for part in parts)))


def test_the_saga_is_a_standard_workflow_with_tracing_and_full_logging(template: Template) -> None:
    template.has_resource_properties(
        "AWS::StepFunctions::StateMachine",
        {
            "StateMachineType": "STANDARD",
            "TracingConfiguration": {"Enabled": True},
            "LoggingConfiguration": Match.object_like({"Level": "ALL", "IncludeExecutionData": True}),
        },
    )


def test_the_definition_passes_statelint(definition: dict[str, Any]) -> None:
    problems = Linter.validate(json.dumps(definition))

    # CDK writes `BackoffRate: 2.0` as the JSON number 2; statelint wants a float literal, AWS
    # accepts both (the ASL spec's numbers are JSON numbers). Every other finding counts.
    integer_backoff = [p for p in problems if p.endswith(".BackoffRate is 2 but should be a Float")]
    assert [p for p in problems if p not in integer_backoff] == []
    assert Linter.validate(json.dumps({"StartAt": "Missing", "States": {}}))  # the linter does find problems


def test_the_happy_path_reserves_then_pays_then_confirms(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert definition["StartAt"] == "ReserveInventory"
    assert states["ReserveInventory"]["Next"] == "ProcessPayment"
    assert states["ProcessPayment"]["Next"] == "ConfirmOrder"
    assert states["ConfirmOrder"]["Next"] == "Confirmed"


def _catches(state: dict[str, Any]) -> dict[str, str]:
    return {error: catch["Next"] for catch in state.get("Catch", []) for error in catch["ErrorEquals"]}


def test_failures_enter_the_compensations_in_reverse_order(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert _catches(states["ReserveInventory"]) == {
        "OutOfStock": "OutOfStockReason",
        "States.ALL": "ReservationFailedReason",
    }
    assert states["OutOfStockReason"]["Next"] == "CancelOrder"
    # a reservation that failed may have been applied all the same: it is released first
    assert states["ReservationFailedReason"]["Next"] == "ReleaseInventory"
    assert _catches(states["ProcessPayment"]) == {
        "PaymentDeclined": "DeclinedReason",
        "States.ALL": "PaymentClock",
    }
    assert states["DeclinedReason"]["Next"] == states["UnavailableReason"]["Next"] == "RefundPayment"
    assert _catches(states["ConfirmOrder"]) == {"States.ALL": "ConfirmationFailedReason"}
    assert states["ConfirmationFailedReason"]["Next"] == "SettleOrder"
    assert states["RefundPayment"]["Next"] == "ReleaseInventory"
    assert states["ReleaseInventory"]["Next"] == "CancelOrder"
    assert states["CancelOrder"]["Next"] == "Cancelled"


def test_a_confirmation_stored_despite_its_error_stands_and_otherwise_is_compensated(
    definition: dict[str, Any],
) -> None:
    states = definition["States"]
    settle = states["SettleOrder"]
    assert settle["Parameters"]["step"] == "settle"
    assert states[settle["Next"]]["Type"] == "Choice"
    choice = states[settle["Next"]]
    assert choice["Choices"] == [{"Variable": "$.settlement.status", "StringEquals": "CONFIRMED", "Next": "Confirmed"}]
    assert choice["Default"] == "RefundPayment"


def test_a_failing_compensation_ends_in_needs_attention(definition: dict[str, Any]) -> None:
    states = definition["States"]
    for compensation in ("SettleOrder", "RefundPayment", "ReleaseInventory", "CancelOrder"):
        assert _catches(states[compensation]) == {"States.ALL": "FlagNeedsAttention"}
        assert states[compensation]["Retry"][0]["MaxAttempts"] == 12
    assert states["FlagNeedsAttention"]["Next"] == "Failed"
    assert states["Failed"]["Type"] == "Fail"


def test_only_transient_errors_are_retried_with_backoff_and_jitter(definition: dict[str, Any]) -> None:
    states = definition["States"]
    (reserve_retry,) = states["ReserveInventory"]["Retry"]
    assert "OutOfStock" not in reserve_retry["ErrorEquals"]
    assert {"ConcurrentUpdate", "Contention"} <= set(reserve_retry["ErrorEquals"])
    assert reserve_retry["BackoffRate"] == 2
    assert reserve_retry["JitterStrategy"] == "FULL"
    assert reserve_retry["MaxDelaySeconds"] == 30
    # A burst of transient failures (six in a row, over up to 90 s of waits) does not cancel an order.
    assert reserve_retry["MaxAttempts"] == 12
    assert reserve_retry["IntervalSeconds"] == 2


def test_payment_waits_for_the_task_token_with_heartbeat_and_timeout(definition: dict[str, Any]) -> None:
    payment = definition["States"]["ProcessPayment"]
    assert payment["Resource"].endswith("sqs:sendMessage.waitForTaskToken")
    assert payment["HeartbeatSeconds"] == 120
    assert payment["TimeoutSeconds"] == 300  # one attempt; the order's deadline is separate
    body = payment["Parameters"]["MessageBody"]
    assert body["data"]["task_token.$"] == "$$.Task.Token"
    assert body["type"] == "ProcessPayment"
    assert payment["Parameters"]["MessageGroupId.$"] == "$.order_id"


def test_order_created_starts_the_saga_through_a_target_with_retries_and_a_dlq(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {"source": ["orderflow.orders"], "detail-type": ["OrderCreated"]},
            "Targets": [
                Match.object_like(
                    {
                        "RetryPolicy": {"MaximumRetryAttempts": 8, "MaximumEventAgeInSeconds": 6 * 3600},
                        "DeadLetterConfig": {"Arn": Match.any_value()},
                    }
                )
            ],
        },
    )


def test_low_stock_is_a_numeric_pattern_to_the_alert_topic(template: Template) -> None:
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["orderflow.inventory"],
                "detail-type": ["InventoryUpdated"],
                "detail": {"data": {"available": [{"numeric": ["<", 5]}]}},
            },
            "Targets": [
                Match.object_like({"InputTransformer": Match.any_value(), "DeadLetterConfig": Match.any_value()})
            ],
        },
    )


def test_a_failed_saga_raises_the_needs_attention_alarm_to_the_alert_topic(resources: Resources) -> None:
    (alerts,) = [lid for lid in of_type(resources, "AWS::SNS::Topic") if "Alerts" in lid]
    failed = [
        alarm["Properties"]
        for alarm in of_type(resources, "AWS::CloudWatch::Alarm").values()
        if "ExecutionsFailed" in json.dumps(alarm["Properties"].get("Metrics", []))
    ]
    assert [(a["Threshold"], a["ComparisonOperator"], a["AlarmActions"]) for a in failed] == [
        (0, "GreaterThanThreshold", [{"Ref": alerts}])
    ]


def test_a_payment_the_provider_cannot_take_is_tried_again_until_the_orders_deadline(
    definition: dict[str, Any], resources: Resources
) -> None:
    """No retry policy on the payment: an outage is waited out (every 7 to 15 s) until the deadline
    in the saga's input, then the order is cancelled PAYMENT_UNAVAILABLE and refunded."""
    states = definition["States"]
    assert "Retry" not in states["ProcessPayment"]
    clock = states["PaymentClock"]
    assert (clock["Parameters"], clock["ResultPath"]) == (
        {"now.$": "$$.State.EnteredTime", "wait_seconds.$": "States.MathRandom(7, 15)"},
        "$.clock",
    )
    deadline = states[clock["Next"]]
    # Fails closed: waits only while a deadline is present and ahead.
    assert deadline["Choices"] == [
        {
            "And": [
                {"Variable": "$.payment_deadline", "IsPresent": True},
                {"Variable": "$.clock.now", "TimestampLessThanPath": "$.payment_deadline"},
            ],
            "Next": "WaitForPaymentProvider",
        }
    ]
    assert deadline["Default"] == "UnavailableReason"
    wait = states["WaitForPaymentProvider"]
    assert (wait["Type"], wait["SecondsPath"], wait["Next"]) == ("Wait", "$.clock.wait_seconds", "ProcessPayment")
    # The deadline comes from the saga starter's setting: 10 minutes.
    starters = [
        f["Properties"]["Environment"]["Variables"]
        for f in of_type(resources, "AWS::Lambda::Function").values()
        if "PAYMENT_DEADLINE_SECONDS" in f["Properties"].get("Environment", {}).get("Variables", {})
    ]
    assert [variables["PAYMENT_DEADLINE_SECONDS"] for variables in starters] == ["600"]
