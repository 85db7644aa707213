"""The template's permissions enforced on the local cloud: a call AWS would deny (a function's,
the state machine's) is denied, answered as the service answers it, and reported; a delivery
between services AWS would refuse is refused, and the message dead-lettered or dropped as the
service does. Each test plants the violation by taking one permission away."""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud.access import Caller
from localcloud.cloud import LocalCloud
from localcloud.provision import REGION, FunctionSpec
from orderflow.contracts import EventSource, EventType
from tests.e2e.saga_support import no_saga_running, publish_event
from tests.e2e.test_order_flow import wait_for
from tests.support.factories import order_created, order_request

pytestmark = pytest.mark.denials_expected


def quiet(cloud: LocalCloud) -> None:
    """No saga running and every source drained: a permission taken away next refuses only
    what the test itself sends, never another test's order."""
    no_saga_running(cloud)
    assert cloud.wait_until_idle(timeout=60)


def as_function(cloud: LocalCloud, logical_prefix: str, service: str) -> Any:
    """A client with the credentials the function's execution environments get."""
    return cloud.client(service, Caller.of_function(_spec(cloud, logical_prefix)).credentials())


def _spec(cloud: LocalCloud, logical_prefix: str) -> FunctionSpec:
    return cloud.deployment.functions[cloud.function_name(logical_prefix)]


@pytest.fixture
def without_key_grants(cloud: LocalCloud) -> Iterator[FunctionSpec]:
    """The relay's role with every KMS permission taken away (restored after)."""
    spec = _spec(cloud, "BackboneRelay")
    policies = cloud.access.policies_of(spec.role_arn)
    kept = [json.loads(json.dumps(policy)) for policy in policies]
    quiet(cloud)
    with cloud.paused():  # the relay itself is not run without them
        for policy in policies:
            policy["Statement"] = [s for s in policy["Statement"] if "kms:" not in json.dumps(s.get("Action"))]
        yield spec
        policies[:] = kept


def test_a_write_to_a_table_the_role_has_no_grant_on_is_denied(cloud: LocalCloud) -> None:
    orders = cloud.table_name("Orders")
    history = as_function(cloud, "OrderHistoryConsumer", "dynamodb")

    with pytest.raises(ClientError) as denied:
        history.put_item(TableName=orders, Item={"order_id": {"S": "o-1"}})

    error = denied.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    role = _spec(cloud, "OrderHistoryConsumer").role_arn.rsplit("/", 1)[-1]
    assert error["Message"] == (
        f"User: arn:aws:sts::123456789012:assumed-role/{role}/{cloud.function_name('OrderHistoryConsumer')}"
        f" is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:{REGION}:123456789012:"
        f"table/{orders} because no identity-based policy allows the dynamodb:PutItem action"
    )
    assert cloud.client("dynamodb").get_item(TableName=orders, Key={"order_id": {"S": "o-1"}}).get("Item") is None
    assert cloud.access.denials[-1].action == "dynamodb:PutItem"


def test_a_transaction_is_authorized_item_by_item(cloud: LocalCloud) -> None:
    """TransactWriteItems needs the action of each item on its table: one item on a table the
    role has no grant on denies the whole transaction."""
    views, orders = cloud.table_name("OrderViews"), cloud.table_name("Orders")
    history = as_function(cloud, "OrderHistoryConsumer", "dynamodb")

    with pytest.raises(ClientError) as denied:
        history.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": views, "Item": {"order_id": {"S": "t-1"}, "sk": {"S": "SUMMARY"}}}},
                {
                    "ConditionCheck": {
                        "TableName": orders,
                        "Key": {"order_id": {"S": "t-1"}},
                        "ConditionExpression": "attribute_not_exists(order_id)",
                    }
                },
            ]
        )

    assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    assert (
        f"dynamodb:ConditionCheckItem on resource: arn:aws:dynamodb:{REGION}:123456789012:table/{orders}"
        in (denied.value.response["Error"]["Message"])
    )
    assert (
        cloud.client("dynamodb")
        .get_item(TableName=views, Key={"order_id": {"S": "t-1"}, "sk": {"S": "SUMMARY"}})
        .get("Item")
        is None
    )


def test_a_publish_the_role_may_not_make_is_an_sns_authorization_error(cloud: LocalCloud) -> None:
    topic = next(arn for arn in cloud.deployment.permissions.encryption if ":sns:" in arn and "OrderEvents" in arn)
    history = as_function(cloud, "OrderHistoryConsumer", "sns")

    with pytest.raises(ClientError) as denied:
        history.publish(TopicArn=topic, Message="{}", MessageGroupId="g", MessageDeduplicationId="d")

    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert denied.value.response["Error"]["Code"] == "AuthorizationError"
    assert (
        f"is not authorized to perform: sns:Publish on resource: {topic}" in denied.value.response["Error"]["Message"]
    )


def test_a_send_to_an_encrypted_queue_needs_the_key_too(cloud: LocalCloud, without_key_grants: FunctionSpec) -> None:
    """The relay's role may send to its failure queue (Lambda does, with the function's role),
    but not use the queue's key: SQS answers with KMS's denial and nothing is enqueued."""
    queue = cloud.queue_url("BackboneRelayFailures")
    sqs = cloud.client("sqs")
    before = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    relay = as_function(cloud, "BackboneRelay", "sqs")

    with pytest.raises(ClientError) as denied:
        relay.send_message(QueueUrl=queue, MessageBody="{}")

    assert denied.value.response["Error"]["Code"] == "KMS.AccessDeniedException"
    queue_arn = next(arn for arn, url in cloud.deployment.queue_urls.items() if url == queue)
    assert cloud.access.denials[-1].action == "kms:GenerateDataKey"
    assert cloud.access.denials[-1].resource == cloud.deployment.permissions.encryption[queue_arn]
    after = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
    assert after == before


def test_what_the_role_grants_passes_keys_included(cloud: LocalCloud) -> None:
    views = cloud.table_name("OrderViews")
    history_dlq = cloud.queue_url("OrderHistoryDeadLetter")
    before = len(cloud.access.denials)

    as_function(cloud, "OrderHistoryConsumer", "dynamodb").query(
        TableName=views, KeyConditionExpression="order_id = :o", ExpressionAttributeValues={":o": {"S": "absent"}}
    )
    as_function(cloud, "OrderHistoryConsumer", "sqs").send_message(
        QueueUrl=history_dlq, MessageBody="{}", MessageGroupId="granted", MessageDeduplicationId="granted-1"
    )

    assert len(cloud.access.denials) == before
    cloud.client("sqs").purge_queue(QueueUrl=history_dlq)


# --- deliveries between services ------------------------------------------------------------


@contextmanager
def taken_away(documents: list[dict[str, Any]], where: Callable[[dict[str, Any]], bool]) -> Iterator[None]:
    """The statements `where` picks removed from these live policy documents, then put back."""
    kept = copy.deepcopy(documents)
    for document in documents:
        statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
        document["Statement"] = [statement for statement in statements if not where(statement)]
    try:
        yield
    finally:
        for document, original in zip(documents, kept, strict=True):
            document.clear()
            document.update(original)


def _allows(service: str) -> Callable[[dict[str, Any]], bool]:
    return lambda statement: statement.get("Principal") == {"Service": service}


def _grants(action: str) -> Callable[[dict[str, Any]], bool]:
    return lambda statement: action in json.dumps(statement.get("Action"))


def _queue_arn(cloud: LocalCloud, logical_prefix: str) -> str:
    url = cloud.queue_url(logical_prefix)
    return next(arn for arn, known in cloud.deployment.queue_urls.items() if known == url)


def _taken(cloud: LocalCloud, logical_prefix: str, marker: str) -> list[dict[str, Any]]:
    """The messages in the queue whose body has `marker`, taken out of it (the others are left
    visible: the queue is shared with the other tests' flows)."""
    sqs, url = cloud.client("sqs"), cloud.queue_url(logical_prefix)
    batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    ours = []
    for message in batch.get("Messages", []):
        if marker in message["Body"]:
            ours.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        else:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    return ours


def _consumed(cloud: LocalCloud, marker: str) -> list[dict[str, Any]]:
    return [d for kind, d in list(cloud.activity.reports) if kind == "sqs_batch" and marker in json.dumps(d)]


def _publish_order_created(cloud: LocalCloud) -> str:
    event = order_created(f"order-{uuid.uuid4().hex[:8]}")
    publish_event(cloud, event)
    return event.subject


def test_a_topic_delivery_the_queue_policy_refuses_goes_to_the_subscription_dlq(cloud: LocalCloud) -> None:
    """SNS does not retry a delivery the queue's policy refuses: the message goes to the
    subscription's dead-letter queue (whose policy still lets SNS in), never to the consumer."""
    quiet(cloud)
    documents = cloud.deployment.permissions.resource_policies[_queue_arn(cloud, "OrderHistoryQueue")]
    with taken_away(documents, _allows("sns.amazonaws.com")):
        order_id = _publish_order_created(cloud)
        (letter,) = wait_for(lambda: _taken(cloud, "OrderHistoryDeadLetter", order_id), timeout=10)

    reason = letter["MessageAttributes"]["ERROR_MESSAGE"]["StringValue"]
    assert reason.startswith("User: sns.amazonaws.com is not authorized to perform: sqs:SendMessage on resource:")
    assert reason.endswith("because no resource-based policy allows the sqs:SendMessage action")
    assert cloud.access.denials[-1].caller.startswith("sns for ")
    assert _consumed(cloud, order_id) == []


def test_a_topic_delivery_the_key_policy_refuses_is_dropped_when_its_dlq_shares_the_key(cloud: LocalCloud) -> None:
    """The queue and its dead-letter queue are encrypted with one key: a key policy that no
    longer lets SNS use it refuses both, and SNS drops the message (it is reported)."""
    quiet(cloud)
    key = cloud.deployment.permissions.encryption[_queue_arn(cloud, "OrderHistoryQueue")]
    before = len(cloud.access.denials)
    with taken_away([cloud.deployment.permissions.key_policies[key]], _allows("sns.amazonaws.com")):
        order_id = _publish_order_created(cloud)
        refused = wait_for(lambda: [d for d in cloud.access.denials[before:] if d.caller.startswith("sns")], timeout=10)
        time.sleep(0.5)

    assert [(d.action, d.resource) for d in refused] == [("kms:GenerateDataKey", key)] * 2  # queue, then DLQ
    assert "because no resource-based policy allows the kms:GenerateDataKey action" in refused[0].message
    time.sleep(1.0)
    assert _consumed(cloud, order_id) == []
    assert _taken(cloud, "OrderHistoryDeadLetter", order_id) == []


def _put_on_bus(cloud: LocalCloud, source: str, detail_type: str, detail: dict[str, Any]) -> None:
    answer = cloud.client("events").put_events(
        Entries=[
            {
                "EventBusName": cloud.deployment.outputs["EventBus"],
                "Source": source,
                "DetailType": detail_type,
                "Detail": json.dumps(detail),
            }
        ]
    )
    assert answer["FailedEntryCount"] == 0


def _rule(cloud: LocalCloud, logical_prefix: str) -> Any:
    return next(rule for rule in cloud.deployment.rules if rule.logical_id.startswith(logical_prefix))


def test_a_rule_delivery_the_queue_policy_refuses_is_dead_lettered_at_once(cloud: LocalCloud) -> None:
    """EventBridge delivers to an SQS target as its service principal: without the queue
    policy's grant the delivery is refused, not retried, and the event dead-lettered with
    `NO_PERMISSIONS`."""
    quiet(cloud)
    rule = _rule(cloud, "FulfilmentStartSaga")
    documents = cloud.deployment.permissions.resource_policies[_queue_arn(cloud, "FulfilmentSagaStartsQueue")]
    event = order_created(f"order-{uuid.uuid4().hex[:8]}")
    with taken_away(documents, _allows("events.amazonaws.com")):
        _put_on_bus(cloud, EventSource.ORDERS, EventType.ORDER_CREATED, json.loads(event.to_json()))
        (letter,) = wait_for(lambda: _taken(cloud, "FulfilmentRuleFailures", event.subject), timeout=10)

    attributes = {name: value["StringValue"] for name, value in letter["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert attributes["RULE_ARN"] == rule.arn
    assert attributes["ERROR_MESSAGE"].startswith("User: events.amazonaws.com is not authorized to perform: sqs:")
    refused = [d for d in cloud.access.denials if d.caller == f"events for {rule.arn.rsplit(':', 1)[-1]}"]
    assert len(refused) == 1  # one attempt: a permission error is not retried


def test_a_rule_target_role_without_the_publish_grant_dead_letters_the_alert(cloud: LocalCloud) -> None:
    """The low-stock rule publishes with a role of its own: that role, not a topic policy, must
    allow the publish."""
    quiet(cloud)
    rule = _rule(cloud, "FulfilmentLowStock")
    (target,) = rule.targets
    assert target.role_arn
    marker = f"c-{uuid.uuid4().hex[:8]}"
    detail = {"subject": "DK-006", "id": "e-1", "correlation_id": marker, "data": {"sku": "DK-006", "available": 1}}
    with taken_away(cloud.access.policies_of(target.role_arn), _grants("sns:Publish")):
        _put_on_bus(cloud, EventSource.INVENTORY, EventType.INVENTORY_UPDATED, detail)
        (letter,) = wait_for(lambda: _taken(cloud, "FulfilmentRuleFailures", marker), timeout=10)

    attributes = {name: value["StringValue"] for name, value in letter["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert attributes["TARGET_ARN"] == target.arn
    role = target.role_arn.rsplit("/", 1)[-1]
    assert attributes["ERROR_MESSAGE"].startswith(f"User: arn:aws:sts::123456789012:assumed-role/{role}/")
    assert f"sns:Publish on resource: {target.arn}" in attributes["ERROR_MESSAGE"]


def test_a_state_machine_role_without_the_invoke_grant_fails_the_task_as_step_functions_does(
    cloud: LocalCloud,
) -> None:
    quiet(cloud)
    machine = cloud.deployment.outputs["StateMachine"]
    sfn = cloud.client("stepfunctions")
    role = cloud.deployment.state_machine_roles[machine]
    with taken_away(cloud.access.policies_of(role), _grants("lambda:InvokeFunction")):
        execution = sfn.start_execution(
            stateMachineArn=machine, name=f"denied-{uuid.uuid4().hex[:8]}", input=json.dumps({"order_id": "denied"})
        )["executionArn"]
        failed = wait_for(
            lambda: [
                e["lambdaFunctionFailedEventDetails"]
                for e in sfn.get_execution_history(executionArn=execution)["events"]
                if e["type"] == "LambdaFunctionFailed"
            ],
            timeout=15,
        )
        sfn.stop_execution(executionArn=execution)

    assert failed[0]["error"] == "Lambda.AWSLambdaException"
    assert "is not authorized to perform: lambda:InvokeFunction on resource:" in failed[0]["cause"]
    assert "(Service: AWSLambda; Status Code: 403; Error Code: AccessDeniedException;" in failed[0]["cause"]
    assert cloud.access.denials[-1].principal.startswith(
        f"arn:aws:sts::123456789012:assumed-role/{role.rsplit('/', 1)[-1]}/"
    )


def test_a_mapping_reads_its_queue_with_the_function_role(cloud: LocalCloud) -> None:
    """Without `sqs:ReceiveMessage` on its role, the function's queue is not read (the denial is
    reported, the messages wait); with it back, they are processed."""
    quiet(cloud)
    spec = _spec(cloud, "OrderHistoryConsumer")
    with taken_away(cloud.access.policies_of(spec.role_arn), _grants("sqs:ReceiveMessage")):
        denied_before = len(cloud.access.denials)
        order_id = _publish_order_created(cloud)
        wait_for(lambda: [d for d in cloud.access.denials[denied_before:] if d.action == "sqs:ReceiveMessage"])
        time.sleep(0.5)
        assert _consumed(cloud, order_id) == []

    wait_for(lambda: _consumed(cloud, order_id), timeout=15)  # read once the grant is back


def test_the_on_failure_destination_is_sent_to_with_the_function_role(cloud: LocalCloud, api: Any) -> None:
    """Lambda sends a discarded stream batch's description with the function's role: without the
    grant nothing reaches the destination, and the discard says it was not sent."""
    quiet(cloud)
    spec = _spec(cloud, "BackboneRelay")
    cloud.runtime.inject_fault(spec.name, "ServiceUnavailable", "the bus is unreachable")
    before = len([1 for kind, _ in list(cloud.activity.reports) if kind == "stream_batch_discarded"])
    try:
        with taken_away(cloud.access.policies_of(spec.role_arn), _grants("sqs:SendMessage")):
            api("POST", "/orders", order_request())
            discarded = wait_for(
                lambda: [d for kind, d in list(cloud.activity.reports) if kind == "stream_batch_discarded"][before:],
                timeout=30,
            )
    finally:
        cloud.runtime.clear_faults()

    assert discarded[0]["sent"] is False
    assert any(d.action == "sqs:SendMessage" and d.caller == spec.name for d in cloud.access.denials)
    batch = discarded[0]["DDBStreamBatchInfo"]["startSequenceNumber"]
    assert _taken(cloud, "BackboneRelayFailures", batch) == []


def test_an_api_the_function_policy_does_not_name_gets_api_gateways_configuration_error(
    cloud: LocalCloud, api: Any
) -> None:
    """API Gateway invokes the function's `live` alias as `apigateway.amazonaws.com` for the
    method's execute-api ARN: without the alias policy's statement it answers 500 and never runs
    it (a statement on the function itself would not do: each alias has its own policy)."""
    quiet(cloud)
    function = _spec(cloud, "OrdersApiFunction")
    alias = f"{function.arn}:live"
    assert cloud.deployment.aliases[alias] == function.name
    assert function.arn not in cloud.deployment.permissions.resource_policies
    documents = cloud.deployment.permissions.resource_policies[alias]
    invoked_before = len([1 for name, _ in list(cloud.activity.logs) if name == function.name])
    with taken_away(documents, lambda statement: "/GET/products" in json.dumps(statement)):
        answer = api("GET", "/products")

    assert (answer.status, answer.body["message"]) == (500, "Internal server error")  # the template's 5XX body
    refused = cloud.access.denials[-1]
    assert (refused.principal, refused.action, refused.resource) == (
        "apigateway.amazonaws.com",
        "lambda:InvokeFunction",
        alias,
    )
    assert refused.caller == f"apigateway for {cloud.api.api_id}/{cloud.api.stage}/GET/products"
    assert len([1 for name, _ in list(cloud.activity.logs) if name == function.name]) == invoked_before
    assert api("GET", "/products").status == 200  # with the statement back
