"""Faults the local cloud injects inside moto itself, on moto."""

from __future__ import annotations

import json

import boto3
from moto import mock_aws

from localcloud.faults import Fault, FaultPlan
from localcloud.moto_fixes import topic_deliveries_consult


def test_a_failed_topic_delivery_lands_in_the_subscriptions_dead_letter_queue() -> None:
    plan = FaultPlan()
    topic_deliveries_consult(plan, lambda topic, queue: None)  # every delivery allowed
    with mock_aws():
        sns, sqs = boto3.client("sns", region_name="eu-west-1"), boto3.client("sqs", region_name="eu-west-1")
        topic = sns.create_topic(Name="events")["TopicArn"]
        queue, dead = (sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("consumer", "consumer-dlq"))
        arns = [
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            for url in (queue, dead)
        ]
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=arns[0],
            Attributes={"RawMessageDelivery": "true", "RedrivePolicy": json.dumps({"deadLetterTargetArn": arns[1]})},
        )
        attributes = {"event_type": {"DataType": "String", "StringValue": "OrderCreated"}}
        sns.publish(TopicArn=topic, Message="delivered", MessageAttributes=attributes)
        plan.set([Fault(kind="delivery", target="sns")], seed=1)
        sns.publish(TopicArn=topic, Message="undelivered", MessageAttributes=attributes)
        plan.clear()
        topic_deliveries_consult(None, None)

        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        (letter,) = sqs.receive_message(QueueUrl=dead, MessageAttributeNames=["All"])["Messages"]

    assert [message["Body"] for message in received] == ["delivered"]
    assert letter["Body"] == "undelivered"
    assert letter["MessageAttributes"]["event_type"]["StringValue"] == "OrderCreated"
    assert letter["MessageAttributes"]["ERROR_MESSAGE"]["StringValue"] == "delivery to consumer failed: injected fault"
    assert plan.injected["sns_delivery"] == 1
