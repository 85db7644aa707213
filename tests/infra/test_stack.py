"""Template assertions on intent: FIFO, redrive, filter policies, partial batch responses,
encryption, TLS-only, tracing, validation. Never on hashed logical ids."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Match, Template

from app import build
from localcloud.synth import LAMBDA_RUNTIME
from orderflow.contracts import CUSTOMER_FACING_EVENTS, ORDER_EVENTS
from tests.infra import checks
from tests.infra.conftest import APP_CONTEXT, of_type

Resources = dict[str, dict[str, Any]]


def _ref_name(value: Any) -> str:
    """The logical id a `Ref` or `Fn::GetAtt` points at."""
    if "Ref" in value:
        return str(value["Ref"])
    return str(value["Fn::GetAtt"][0])


def test_the_order_events_topic_is_fifo_encrypted_and_tls_only(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SNS::Topic",
        {
            "FifoTopic": True,
            "ContentBasedDeduplication": False,
            "FifoThroughputScope": "MessageGroup",
            "KmsMasterKeyId": Match.any_value(),
        },
    )
    template.has_resource_properties(
        "AWS::SNS::TopicPolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]
                )
            }
        },
    )


def test_every_queue_is_kms_encrypted_and_tls_only(resources: Resources) -> None:
    queues = of_type(resources, "AWS::SQS::Queue")
    # 5 consumers (history, notifications, payments, shipping, saga starts) x (queue + DLQ), and the
    # failure queues of the outbox relay and of the EventBridge rule targets.
    assert len(queues) == 12
    for queue in queues.values():
        assert "KmsMasterKeyId" in queue["Properties"]
    guarded = set()
    for policy in of_type(resources, "AWS::SQS::QueuePolicy").values():
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        if any(s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}} for s in statements):
            guarded.update(_ref_name(queue) for queue in policy["Properties"]["Queues"])
    assert guarded == set(queues)


def test_each_consumer_queue_has_a_dlq_of_its_kind_and_max_receive_count(resources: Resources) -> None:
    """The order-event and command queues are FIFO with FIFO DLQs; the saga-starts queue (a
    start is idempotent on the order id) is standard with a standard DLQ."""
    queues = of_type(resources, "AWS::SQS::Queue")
    sources = {lid: q["Properties"] for lid, q in queues.items() if "RedrivePolicy" in q["Properties"]}
    assert len(sources) == 5
    for lid, props in sources.items():
        fifo = "SagaStarts" not in lid
        assert props.get("FifoQueue", False) is fifo, lid
        if fifo:
            assert (props["DeduplicationScope"], props["FifoThroughputLimit"]) == ("messageGroup", "perMessageGroupId")
        assert props["RedrivePolicy"]["maxReceiveCount"] == 5
        dlq = queues[_ref_name(props["RedrivePolicy"]["deadLetterTargetArn"])]
        assert dlq["Properties"].get("FifoQueue", False) is fifo
        assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_queue_visibility_is_at_least_six_times_the_consumer_timeout(resources: Resources) -> None:
    functions = of_type(resources, "AWS::Lambda::Function")
    queues = of_type(resources, "AWS::SQS::Queue")
    mappings = of_type(resources, "AWS::Lambda::EventSourceMapping").values()
    sqs_mappings = [m["Properties"] for m in mappings if _ref_name(m["Properties"]["EventSourceArn"]) in queues]
    assert len(sqs_mappings) == 5
    for mapping in sqs_mappings:
        queue = queues[_ref_name(mapping["EventSourceArn"])]
        function = functions[str(checks.invoked({"Resources": resources}, mapping["FunctionName"]))]
        assert queue["Properties"]["VisibilityTimeout"] >= 6 * function["Properties"]["Timeout"]


def test_sqs_event_sources_report_partial_failures_and_cap_concurrency(template: Template) -> None:
    mappings = template.find_resources(
        "AWS::Lambda::EventSourceMapping",
        {"Properties": {"ScalingConfig": Match.any_value()}},
    )
    assert len(mappings) == 5
    for mapping in mappings.values():
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["Properties"]["ScalingConfig"] == {"MaximumConcurrency": 5}


def _filter_policy(resources: Resources, queue_suffix: str) -> list[str]:
    for subscription in of_type(resources, "AWS::SNS::Subscription").values():
        props = subscription["Properties"]
        if _ref_name(props["Endpoint"]).startswith(queue_suffix):
            assert props["Protocol"] == "sqs"
            assert props["RawMessageDelivery"] is True
            assert "RedrivePolicy" in props
            return list(props["FilterPolicy"]["event_type"])
    raise AssertionError(f"no subscription for {queue_suffix}")


def test_filter_policies_route_each_consumer_its_events(resources: Resources) -> None:
    assert _filter_policy(resources, "OrderHistoryQueue") == list(ORDER_EVENTS)
    assert _filter_policy(resources, "NotificationsQueue") == list(CUSTOMER_FACING_EVENTS)
    assert _filter_policy(resources, "FulfilmentShippingQueue") == ["OrderConfirmed"]


def test_outbox_stream_feeds_the_relay_with_bisect_retries_and_a_failure_destination(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
            "TimeToLiveSpecification": {"Enabled": True, "AttributeName": "expires_at"},
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "StartingPosition": "TRIM_HORIZON",
            "BisectBatchOnFunctionError": True,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "MaximumRetryAttempts": 5,
            "DestinationConfig": {"OnFailure": {"Destination": Match.any_value()}},
            "FilterCriteria": {"Filters": [{"Pattern": Match.serialized_json({"eventName": ["INSERT"]})}]},
        },
    )


def test_functions_run_python_313_with_active_tracing_and_both_layers(resources: Resources) -> None:
    functions = of_type(resources, "AWS::Lambda::Function")
    assert len(functions) == 11
    for function in functions.values():
        props = function["Properties"]
        assert props["Runtime"] == "python3.13" == LAMBDA_RUNTIME  # the Python the local cloud runs them on
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert len(props["Layers"]) == 2
        assert "LogGroup" in props["LoggingConfig"]


def test_tables_use_the_customer_key_and_point_in_time_recovery(resources: Resources) -> None:
    tables = of_type(resources, "AWS::DynamoDB::Table")
    assert len(tables) == 9  # prod: no simulated provider's ledger
    for table in tables.values():
        props = table["Properties"]
        assert props["SSESpecification"]["SSEEnabled"] is True
        assert props["SSESpecification"]["SSEType"] == "KMS"
        assert "KMSMasterKeyId" in props["SSESpecification"]
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_every_customer_key_rotates(resources: Resources) -> None:
    keys = of_type(resources, "AWS::KMS::Key")
    assert len(keys) == 2  # tables + queues, and the topic's own (see DataKeys)
    assert all(key["Properties"]["EnableKeyRotation"] for key in keys.values())


def test_the_gateway_validates_parameters_and_leaves_the_body_to_the_function(template: Template) -> None:
    """The function names each invalid field; a gateway body validator could only say "Invalid
    request body" (gateway responses cannot escape its message into JSON)."""
    template.has_resource_properties(
        "AWS::ApiGateway::Method",
        {"HttpMethod": "POST", "ApiKeyRequired": True, "RequestValidatorId": Match.any_value()},
    )
    (validator,) = template.find_resources("AWS::ApiGateway::RequestValidator").values()
    assert validator["Properties"]["ValidateRequestParameters"] is True
    assert validator["Properties"].get("ValidateRequestBody", False) is False
    assert template.find_resources("AWS::ApiGateway::Model") == {}


def test_every_method_needs_an_api_key(resources: Resources) -> None:
    methods = of_type(resources, "AWS::ApiGateway::Method")
    assert len(methods) == 3
    assert all(method["Properties"]["ApiKeyRequired"] for method in methods.values())


def test_stage_traces_logs_and_throttles(template: Template) -> None:
    template.has_resource_properties(
        "AWS::ApiGateway::Stage",
        {
            "TracingEnabled": True,
            "AccessLogSetting": {"DestinationArn": Match.any_value(), "Format": Match.any_value()},
            "MethodSettings": Match.array_with(
                [Match.object_like({"ThrottlingRateLimit": 100, "ThrottlingBurstLimit": 200, "LoggingLevel": "INFO"})]
            ),
        },
    )
    template.has_resource_properties(
        "AWS::ApiGateway::UsagePlan",
        {"Throttle": {"RateLimit": 50, "BurstLimit": 100}, "Quota": {"Limit": 100_000, "Period": "DAY"}},
    )
    template.has_resource_properties(
        "AWS::ApiGateway::GatewayResponse", {"ResponseType": "BAD_REQUEST_PARAMETERS", "StatusCode": "422"}
    )


def test_the_bus_archives_every_event(template: Template) -> None:
    template.resource_count_is("AWS::Events::EventBus", 1)
    template.has_resource_properties("AWS::Events::Archive", {"RetentionDays": 365, "EventPattern": Match.any_value()})


def test_no_policy_grants_wildcard_actions(resources: Resources) -> None:
    for policy in of_type(resources, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                assert action != "*"
                assert not action.endswith(":*"), action


def test_api_function_has_only_the_table_actions_it_uses(resources: Resources) -> None:
    policies = [p for name, p in of_type(resources, "AWS::IAM::Policy").items() if name.startswith("OrdersApiFunction")]
    actions = {
        action
        for policy in policies
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
        if action.startswith("dynamodb:")
    }
    assert actions == {
        "dynamodb:BatchGetItem",
        "dynamodb:Scan",
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }


def test_synth_passes_cdk_nag_with_every_finding_acknowledged(app_and_stacks: Any) -> None:
    app, data, application = app_and_stacks

    assembly = app.synth()  # raises when any AwsSolutions finding is unacknowledged

    assert assembly.get_stack_by_name(data.stack_name).template["Resources"]
    assert assembly.get_stack_by_name(application.stack_name).template["Resources"]


def test_cdk_nag_fails_the_synth_on_a_new_finding(tmp_path: Any) -> None:
    app = cdk.App(context=APP_CONTEXT, outdir=str(tmp_path))
    _, stack = build(app)
    sqs.Queue(stack, "Unencrypted", encryption=sqs.QueueEncryption.UNENCRYPTED)

    with pytest.raises(RuntimeError, match="AwsSolutions-SQS2"):
        app.synth()
