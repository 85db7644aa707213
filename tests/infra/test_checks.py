"""What AWS needs before the stack works as intended, checked on the synthesized template; each
check is also shown to catch the mistake it is for, planted in a copy of the template."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Template

from tests.infra import checks

Document = dict[str, Any]


@pytest.fixture
def synthesized(template: Template) -> Document:
    return copy.deepcopy(template.to_json())


def _one(document: Document, kind: str, containing: str = "") -> tuple[str, dict[str, Any]]:
    lid, resource = next((lid, r) for lid, r in checks.resources(document, kind).items() if containing in lid)
    return lid, resource


# --- alarms reach a person ----------------------------------------------------------------


def test_every_alarm_action_can_publish(synthesized: Document) -> None:
    assert checks.alarm_actions_that_cannot_publish(synthesized) == []


def test_a_topic_policy_without_cloudwatch_is_caught(synthesized: Document) -> None:
    _, policy = _one(synthesized, "AWS::SNS::TopicPolicy", "Alerts")
    document = policy["Properties"]["PolicyDocument"]
    document["Statement"] = [s for s in document["Statement"] if "cloudwatch" not in str(s.get("Principal"))]

    assert any("does not let CloudWatch publish" in p for p in checks.alarm_actions_that_cannot_publish(synthesized))


def test_an_unscoped_cloudwatch_grant_is_caught(synthesized: Document) -> None:
    _, policy = _one(synthesized, "AWS::SNS::TopicPolicy", "Alerts")
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        if "cloudwatch" in str(statement.get("Principal")):
            statement.pop("Condition")

    assert any("any CloudWatch alarm" in p for p in checks.alarm_actions_that_cannot_publish(synthesized))


def test_a_key_policy_without_cloudwatch_is_caught(synthesized: Document) -> None:
    for _, key in checks.resources(synthesized, "AWS::KMS::Key").items():
        statements = key["Properties"]["KeyPolicy"]["Statement"]
        key["Properties"]["KeyPolicy"]["Statement"] = [s for s in statements if "cloudwatch" not in str(s)]

    problems = checks.alarm_actions_that_cannot_publish(synthesized)

    assert any("does not allow CloudWatch kms:GenerateDataKey" in p for p in problems)


def test_alarms_that_matter_once_fire_on_one_datapoint(synthesized: Document) -> None:
    matter = checks.alarms_that_matter_once(synthesized)

    assert set(matter.values()) == {
        "a message in a dead-letter queue",
        "a saga execution failed or timed out",
        "an order in NEEDS_ATTENTION",
        "a function error in the payment path",
    }
    # 5 consumer DLQs, the relay's and the rule targets' failure queues; failed and timed out;
    # needs attention; the payments consumer's and the refund function's errors.
    assert len(matter) == 7 + 2 + 1 + 2
    assert checks.alarms_that_wait(synthesized) == []


def test_a_dead_letter_alarm_waiting_for_three_datapoints_is_caught(synthesized: Document) -> None:
    lid = next(lid for lid, why in checks.alarms_that_matter_once(synthesized).items() if "dead-letter" in why)
    synthesized["Resources"][lid]["Properties"].update(EvaluationPeriods=3, DatapointsToAlarm=3)

    assert checks.alarms_that_wait(synthesized) == [
        f"{lid} (a message in a dead-letter queue): 3 of 3 datapoints, not 1 of 1"
    ]


# --- nothing lost on asynchronous invocation -------------------------------------------------


def test_no_function_is_invoked_asynchronously_without_a_destination(synthesized: Document) -> None:
    assert checks.asynchronous_invocations_without_destination(synthesized) == []


def test_a_rule_invoking_a_function_without_a_destination_is_caught(synthesized: Document) -> None:
    rule_id, rule = _one(synthesized, "AWS::Events::Rule", "StartSaga")
    function_id, _ = _one(synthesized, "AWS::Lambda::Function", "SagaStarts")
    rule["Properties"]["Targets"] = [{"Arn": {"Fn::GetAtt": [function_id, "Arn"]}, "Id": "Target0"}]

    assert checks.asynchronous_invocations_without_destination(synthesized) == [
        f"{function_id}, invoked asynchronously by rule {rule_id}, has no on-failure destination",
        f"{function_id}, invoked asynchronously by rule {rule_id}, has no maximum event age",
    ]


def test_a_destination_and_an_event_age_satisfy_the_check(synthesized: Document) -> None:
    _, rule = _one(synthesized, "AWS::Events::Rule", "StartSaga")
    function_id, _ = _one(synthesized, "AWS::Lambda::Function", "SagaStarts")
    rule["Properties"]["Targets"] = [{"Arn": {"Fn::GetAtt": [function_id, "Arn"]}, "Id": "Target0"}]
    synthesized["Resources"]["StarterInvokeConfig"] = {
        "Type": "AWS::Lambda::EventInvokeConfig",
        "Properties": {
            "FunctionName": {"Ref": function_id},
            "Qualifier": "$LATEST",
            "MaximumEventAgeInSeconds": 3600,
            "DestinationConfig": {"OnFailure": {"Destination": "arn:aws:sqs:eu-west-1:123456789012:failed"}},
        },
    }

    assert checks.asynchronous_invocations_without_destination(synthesized) == []


# --- tracing that works on AWS ------------------------------------------------------------------


def test_every_traced_hop_can_record(synthesized: Document) -> None:
    assert checks.traced_hops_that_cannot_record(synthesized) == []


def test_a_traced_topic_without_xrays_resource_policy_is_caught(synthesized: Document) -> None:
    for lid in checks.resources(synthesized, "AWS::XRay::ResourcePolicy"):
        del synthesized["Resources"][lid]

    problems = checks.traced_hops_that_cannot_record(synthesized)

    assert len(problems) == 1
    assert "X-Ray's resource policy does not let SNS put segments" in problems[0]


def test_a_function_without_tracing_is_caught(synthesized: Document) -> None:
    lid, function = _one(synthesized, "AWS::Lambda::Function", "Relay")
    del function["Properties"]["TracingConfig"]

    assert checks.traced_hops_that_cannot_record(synthesized) == [f"{lid}: tracing not active"]


# --- account hygiene --------------------------------------------------------------------------


def test_names_and_account_settings_do_not_leak_into_the_account(synthesized: Document) -> None:
    assert checks.resources(synthesized, "AWS::ApiGateway::Account") == {}  # not asked for
    assert checks.account_hygiene(synthesized, prefix="orderflow-prod") == []


def test_a_state_machine_logging_outside_vendedlogs_and_an_api_called_api_are_caught(synthesized: Document) -> None:
    for group in checks.resources(synthesized, "AWS::Logs::LogGroup").values():
        group["Properties"].pop("LogGroupName", None)
    _, api = _one(synthesized, "AWS::ApiGateway::RestApi")
    api["Properties"]["Name"] = "Api"
    synthesized["Resources"]["Account"] = {
        "Type": "AWS::ApiGateway::Account",
        "Properties": {"CloudWatchRoleArn": {"Fn::GetAtt": ["SomeRole", "Arn"]}},
    }
    synthesized["Resources"]["SomeRole"] = {"Type": "AWS::IAM::Role", "DeletionPolicy": "Delete", "Properties": {}}

    problems = checks.account_hygiene(synthesized, prefix="orderflow-prod")

    assert len(problems) == 3
    assert "not under /aws/vendedlogs/" in problems[0]
    assert "REST API named 'Api', not after the stage" in problems[1]
    assert "sets the account's API Gateway role SomeRole, deleted with the stack" in problems[2]


def test_what_holds_data_is_retained(synthesized: Document) -> None:
    assert checks.data_not_retained(synthesized) == []


def test_a_table_or_a_dead_letter_queue_deleted_with_the_stack_is_caught(synthesized: Document) -> None:
    table_id, table = _one(synthesized, "AWS::DynamoDB::Table", "Orders")
    table.update(DeletionPolicy="Delete")
    dlq_id = sorted(checks.dead_letter_queues(synthesized))[0]
    synthesized["Resources"][dlq_id].update(DeletionPolicy="Delete", UpdateReplacePolicy="Delete")

    problems = checks.data_not_retained(synthesized)

    assert [p.split(" ")[0] for p in problems] == sorted([table_id, dlq_id])


def test_make_destroy_names_everything_the_stack_keeps(synthesized: Document) -> None:
    from infra.destroy import kept

    table_id, _ = _one(synthesized, "AWS::DynamoDB::Table", "Orders")
    listed = {resource.logical_id: resource for resource in kept(synthesized, {table_id: "orderflow-orders-1"})}

    holders = {lid for kind in checks.DATA_TYPES for lid in checks.resources(synthesized, kind)}
    assert holders | checks.dead_letter_queues(synthesized) <= set(listed)
    assert "delete-table --table-name orderflow-orders-1" in listed[table_id].for_good
    # Kept resources whose names the template fixes block a redeploy under the same stack name.
    named = {resource.kind for resource in listed.values() if resource.named}
    assert {"AWS::Events::EventBus", "AWS::Logs::LogGroup"} <= named
    assert not listed[table_id].named  # CloudFormation names the tables: a redeploy makes new ones


def test_no_name_outgrows_its_service_at_the_longest_stage_name(synthesized: Document) -> None:
    from infra.settings import MAX_STAGE_NAME, PRODUCT

    longest = len(f"{PRODUCT}-") + MAX_STAGE_NAME
    assert checks.names_too_long(synthesized, prefix="orderflow-prod", longest_prefix=longest) == []
    assert checks.names_too_long(synthesized, prefix="orderflow-prod", longest_prefix=longest + 1) == [
        f"{_one(synthesized, 'AWS::XRay::ResourcePolicy')[0]}: PolicyName reaches 129 characters, "
        "AWS::XRay::ResourcePolicy takes 128"
    ]


def test_a_stage_name_that_would_break_a_name_is_refused_before_synth() -> None:
    from infra.settings import MAX_STAGE_NAME, OrderflowSettings

    OrderflowSettings(stage="o" * MAX_STAGE_NAME)
    with pytest.raises(ValueError, match=f"at most {MAX_STAGE_NAME} characters"):
        OrderflowSettings(stage="o" * (MAX_STAGE_NAME + 1))
    with pytest.raises(ValueError, match="a lowercase letter, then lowercase letters, digits and hyphens"):
        OrderflowSettings(stage="dev_alice")
    with pytest.raises(ValueError, match="a lowercase letter"):
        OrderflowSettings(stage="Dev")


# --- the security controls table ------------------------------------------------------------------

SECURITY = Path(__file__).resolve().parents[2] / "docs" / "security.md"
PLANTED: dict[str, Any] = {
    "APIGateway.1": lambda t: [
        s["Properties"].__setitem__("MethodSettings", [])
        for s in checks.resources(t, "AWS::ApiGateway::Stage").values()
    ],
    "APIGateway.3": lambda t: [
        s["Properties"].__setitem__("TracingEnabled", False)
        for s in checks.resources(t, "AWS::ApiGateway::Stage").values()
    ],
    "APIGateway.5": lambda t: [
        s["Properties"].__setitem__("CacheClusterEnabled", True)
        for s in checks.resources(t, "AWS::ApiGateway::Stage").values()
    ],
    "CloudWatch.15": lambda t: [
        a["Properties"].pop("AlarmActions") for a in checks.resources(t, "AWS::CloudWatch::Alarm").values()
    ],
    "CloudWatch.17": lambda t: [
        a["Properties"].__setitem__("ActionsEnabled", False)
        for a in checks.resources(t, "AWS::CloudWatch::Alarm").values()
    ],
    "DynamoDB.1": lambda t: [
        d["Properties"].__setitem__("BillingMode", "PROVISIONED")
        for d in checks.resources(t, "AWS::DynamoDB::Table").values()
    ],
    "DynamoDB.2": lambda t: [
        d["Properties"].pop("PointInTimeRecoverySpecification")
        for d in checks.resources(t, "AWS::DynamoDB::Table").values()
    ],
    "DynamoDB.6": lambda t: [
        d["Properties"].pop("DeletionProtectionEnabled") for d in checks.resources(t, "AWS::DynamoDB::Table").values()
    ],
    "EventBridge.3": lambda t: [
        t["Resources"].pop(lid) for lid in list(checks.resources(t, "AWS::Events::EventBusPolicy"))
    ],
    "KMS.4": lambda t: [
        k["Properties"].__setitem__("EnableKeyRotation", False) for k in checks.resources(t, "AWS::KMS::Key").values()
    ],
    "Lambda.1": lambda t: [
        p["Properties"].pop("SourceArn", None) for p in checks.resources(t, "AWS::Lambda::Permission").values()
    ],
    "Lambda.2": lambda t: [
        f["Properties"].__setitem__("Runtime", "python3.8")
        for f in checks.resources(t, "AWS::Lambda::Function").values()
    ],
    "SNS.1": lambda t: [x["Properties"].pop("KmsMasterKeyId") for x in checks.resources(t, "AWS::SNS::Topic").values()],
    "SNS.4": lambda t: [
        p["Properties"]["PolicyDocument"]["Statement"].append(
            {"Effect": "Allow", "Principal": "*", "Action": "sns:Publish", "Resource": "*"}
        )
        for p in checks.resources(t, "AWS::SNS::TopicPolicy").values()
    ],
    "SQS.1": lambda t: [q["Properties"].pop("KmsMasterKeyId") for q in checks.resources(t, "AWS::SQS::Queue").values()],
    "SQS.3": lambda t: [
        p["Properties"]["PolicyDocument"]["Statement"].append(
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sqs:SendMessage", "Resource": "*"}
        )
        for p in checks.resources(t, "AWS::SQS::QueuePolicy").values()
    ],
    "StepFunctions.1": lambda t: [
        m["Properties"].pop("LoggingConfiguration")
        for m in checks.resources(t, "AWS::StepFunctions::StateMachine").values()
    ],
    "Logs encryption": lambda t: [
        g["Properties"].pop("KmsKeyId") for g in checks.resources(t, "AWS::Logs::LogGroup").values()
    ],
}


def _table_rows() -> dict[str, str]:
    """Control -> status, from the Security table (docs/security.md)."""
    text = SECURITY.read_text()
    section = text[text.index("| control | requirement | status |") :]
    rows = [line.split("|")[1:-1] for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    return {cells[0].strip(): cells[2].strip() for cells in rows[1:]}


def test_every_control_the_security_table_says_is_met_is_checked_and_met(synthesized: Document) -> None:
    rows = _table_rows()
    met = {control for control, status in rows.items() if status == "met"}

    assert set(rows.values()) <= {"met", "not met"}
    assert met == set(checks.CONTROLS)
    for control in sorted(met):
        assert checks.CONTROLS[control](synthesized) == [], control


@pytest.mark.parametrize("control", sorted(PLANTED))
def test_each_control_check_catches_its_planted_violation(synthesized: Document, control: str) -> None:
    PLANTED[control](synthesized)

    assert checks.CONTROLS[control](synthesized) != []
