"""The template's permissions enforced on the local endpoint: a function's call AWS would deny
is denied, answered as the service answers it, and reported. Each test plants the violation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localcloud.access import AccessControl
from localcloud.cloud import LocalCloud
from localcloud.provision import REGION, FunctionSpec

pytestmark = pytest.mark.denials_expected


def as_function(cloud: LocalCloud, logical_prefix: str, service: str) -> Any:
    """A client with the credentials the function's execution environments get."""
    return cloud.client(service, AccessControl.credentials(_spec(cloud, logical_prefix)))


def _spec(cloud: LocalCloud, logical_prefix: str) -> FunctionSpec:
    return cloud.deployment.functions[cloud.function_name(logical_prefix)]


@pytest.fixture
def without_key_grants(cloud: LocalCloud) -> Iterator[FunctionSpec]:
    """The relay's role with every KMS permission taken away (restored after)."""
    spec = _spec(cloud, "BackboneRelay")
    policies = cloud.access.policies_of(spec)
    kept = [json.loads(json.dumps(policy)) for policy in policies]
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
