"""Plain peer of saga-starter: OrderCreated -> one saga execution named after the order."""

import json
import os

import boto3

sfn = boto3.client("stepfunctions")
STATE_MACHINE = os.environ["STATE_MACHINE_ARN"]


def handler(event, context):
    envelope = event["detail"]
    try:
        sfn.start_execution(stateMachineArn=STATE_MACHINE, name=envelope["subject"], input=json.dumps(envelope))
    except sfn.exceptions.ExecutionAlreadyExists:
        return {"started": False}
    return {"started": True}
