"""Delete a stage's stacks, and say what they leave behind.

The app stack goes first (it imports the data stack's exports), then the data stack, unless it
has termination protection (a stage that keeps its data): then it stays, and `make destroy` says so.
Everything that holds data is `Retain` in a stage that keeps its data (tables, the keys that
decrypt them, log groups, queues, the event archive and its bus), so deleting a stack keeps it:
`make destroy` lists each kept resource with its physical name, read from the stack before it
goes, and how to delete it for good. A kept resource whose name the template fixes (the bus
`orderflow-<stage>-events`, the state machine's vended log group) makes a new deploy of the
stage fail while it exists ("already exists"): those are named as such.

    python -m infra.destroy --stage dev-alice [--yes]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any

import boto3

from infra.settings import PRODUCT

FOR_GOOD = {
    "AWS::DynamoDB::Table": (
        "aws dynamodb update-table --table-name {id} --no-deletion-protection-enabled && "
        "aws dynamodb delete-table --table-name {id}"
    ),
    "AWS::KMS::Key": (
        "aws kms schedule-key-deletion --key-id {id} --pending-window-in-days 30  (after the data it decrypts)"
    ),
    "AWS::Logs::LogGroup": "aws logs delete-log-group --log-group-name {id}",
    "AWS::SQS::Queue": "aws sqs delete-queue --queue-url {id}",
    "AWS::Events::Archive": "aws events delete-archive --archive-name {id}",
    "AWS::Events::EventBus": "aws events delete-event-bus --name {id}  (after its archive)",
    "AWS::IAM::Role": "aws iam delete-role --role-name {id}  (API Gateway's account role: only if nothing else logs)",
}


# The property that names each kind of resource. Set in the template, the name is fixed: the
# next deploy under the same stack name creates a resource of that name again.
NAME_PROPERTY = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Events::Archive": "ArchiveName",
    "AWS::Events::EventBus": "Name",
    "AWS::IAM::Role": "RoleName",
}


@dataclass(frozen=True)
class Kept:
    logical_id: str
    kind: str
    physical_id: str
    named: bool = False  # its name is fixed by the template: it blocks a redeploy of the stack

    @property
    def for_good(self) -> str:
        return FOR_GOOD.get(self.kind, "delete it in the {kind} console").format(id=self.physical_id, kind=self.kind)


def kept(template: dict[str, Any], physical_ids: dict[str, str]) -> list[Kept]:
    """The resources deleting the stack keeps (`DeletionPolicy: Retain`), with their names."""
    return [
        Kept(
            lid,
            resource["Type"],
            physical_ids.get(lid, "(not created)"),
            named=NAME_PROPERTY.get(resource["Type"], "") in resource.get("Properties", {}),
        )
        for lid, resource in sorted(template["Resources"].items(), key=lambda item: (item[1]["Type"], item[0]))
        if resource.get("DeletionPolicy") == "Retain"
    ]


def destroy(cloudformation: Any, stack: str, *, ask: bool) -> bool:
    """Delete `stack` (reporting what it keeps); False when it stays."""
    described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    if described.get("EnableTerminationProtection"):
        print(
            f"Stack {stack} has termination protection (its stage keeps its data): not deleted. To delete it "
            f"anyway: aws cloudformation update-termination-protection --no-enable-termination-protection "
            f"--stack-name {stack}, then run this again."
        )
        return False
    template = cloudformation.get_template(StackName=stack, TemplateStage="Processed")["TemplateBody"]
    template = json.loads(template) if isinstance(template, str) else template
    paginator = cloudformation.get_paginator("list_stack_resources")
    physical = {
        summary["LogicalResourceId"]: summary.get("PhysicalResourceId", "")
        for page in paginator.paginate(StackName=stack)
        for summary in page["StackResourceSummaries"]
    }
    keeping = kept(template, physical)
    print(f"Deleting stack {stack}; {len(keeping)} resource(s) holding data are kept.")
    if ask and input(f"Delete {stack}? [y/N] ").strip().lower() != "y":
        print("Nothing deleted.")
        return False
    cloudformation.delete_stack(StackName=stack)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=stack)
    print(f"Stack {stack} deleted. Kept, with how to delete each for good:")
    for resource in keeping:
        print(f"- {resource.kind} {resource.physical_id}\n    {resource.for_good}")
    named = [resource for resource in keeping if resource.named]
    if named:
        print(
            f"Deploying {stack} again fails while these exist (their names are fixed by the template): "
            "delete them first, or deploy another stage."
        )
        for resource in named:
            print(f"- {resource.physical_id}")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.destroy", description=__doc__)
    parser.add_argument("--stage", required=True)
    parser.add_argument("--yes", action="store_true", help="do not ask before deleting")
    arguments = parser.parse_args(argv)
    cloudformation = boto3.client("cloudformation")
    prefix = f"{PRODUCT}-{arguments.stage}"
    if not destroy(cloudformation, f"{prefix}-app", ask=not arguments.yes):
        return 1
    return 0 if destroy(cloudformation, f"{prefix}-data", ask=not arguments.yes) else 1


if __name__ == "__main__":
    sys.exit(main())
