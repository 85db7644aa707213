"""`make destroy`: a stage's app stack, then its data stack unless protected, and what each keeps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.destroy import destroy

RETAINED = {
    "Resources": {
        "Orders": {
            "Type": "AWS::SQS::Queue",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {"QueueName": "orderflow-dev-orders"},
        },
        "Scratch": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "orderflow-dev-scratch"}},
    }
}


@pytest.fixture
def cloudformation() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("cloudformation")


def test_a_stack_is_deleted_and_what_it_keeps_is_listed(
    cloudformation: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    cloudformation.create_stack(StackName="orderflow-dev-data", TemplateBody=json.dumps(RETAINED))

    assert destroy(cloudformation, "orderflow-dev-data", ask=False)

    printed = capsys.readouterr().out
    assert "Deleting stack orderflow-dev-data; 1 resource(s) holding data are kept." in printed
    assert "orderflow-dev-orders" in printed  # the retained queue, with how to delete it for good
    assert "orderflow-dev-scratch" not in printed
    queues = [url.rsplit("/", 1)[-1] for url in boto3.client("sqs").list_queues().get("QueueUrls", [])]
    assert queues == ["orderflow-dev-orders"]  # CloudFormation deleted the other one


def test_a_protected_data_stack_stays(cloudformation: Any, capsys: pytest.CaptureFixture[str]) -> None:
    cloudformation.create_stack(
        StackName="orderflow-prod-data", TemplateBody=json.dumps(RETAINED), EnableTerminationProtection=True
    )

    assert not destroy(cloudformation, "orderflow-prod-data", ask=False)

    assert "has termination protection" in capsys.readouterr().out
    assert (
        cloudformation.describe_stacks(StackName="orderflow-prod-data")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    )
