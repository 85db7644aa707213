"""Plain peer of outbox-relay: outbox stream INSERTs -> the SNS FIFO topic and the bus."""

import json
import os

import boto3

sns = boto3.client("sns")
events = boto3.client("events")
TOPIC, BUS = os.environ["ORDER_EVENTS_TOPIC_ARN"], os.environ["EVENT_BUS_NAME"]


def handler(event, context):
    failures = []
    for record in event["Records"]:
        if record["eventName"] != "INSERT":
            continue
        try:
            envelope = json.loads(record["dynamodb"]["NewImage"]["envelope"]["S"])
            sns.publish(
                TopicArn=TOPIC,
                Message=json.dumps(envelope),
                MessageGroupId=envelope["subject"],
                MessageDeduplicationId=envelope["id"],
                MessageAttributes={"event_type": {"DataType": "String", "StringValue": envelope["type"]}},
            )
            events.put_events(
                Entries=[
                    {
                        "EventBusName": BUS,
                        "Source": envelope["source"],
                        "DetailType": envelope["type"],
                        "Detail": json.dumps(envelope),
                    }
                ]
            )
        except Exception:
            failures.append({"itemIdentifier": record["dynamodb"]["SequenceNumber"]})
            break
    return {"batchItemFailures": failures}
