"""Delete the stack, and say what it leaves behind.

Everything that holds data is `Retain` in the template (tables, the keys that decrypt them, log
groups, dead-letter queues, the event archive and its bus), so deleting the stack keeps it:
`make destroy` lists each kept resource with its physical name, read from the stack before it
goes, and how to delete it for good. A kept resource whose name the template fixes (the bus
`<stack>-events`, the state machine's vended log group) makes a new deploy of a stack of the same
name fail while it exists ("already exists"): those are named as such.

    python -m infra.destroy --stack orderflow [--yes]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any

import boto3

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.destroy", description=__doc__)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--yes", action="store_true", help="do not ask before deleting")
    arguments = parser.parse_args(argv)
    cloudformation = boto3.client("cloudformation")
    template = cloudformation.get_template(StackName=arguments.stack, TemplateStage="Processed")["TemplateBody"]
    template = json.loads(template) if isinstance(template, str) else template
    paginator = cloudformation.get_paginator("list_stack_resources")
    physical = {
        summary["LogicalResourceId"]: summary.get("PhysicalResourceId", "")
        for page in paginator.paginate(StackName=arguments.stack)
        for summary in page["StackResourceSummaries"]
    }
    keeping = kept(template, physical)
    print(f"Deleting stack {arguments.stack}; {len(keeping)} resource(s) holding data are kept.")
    if not arguments.yes and input("Delete the stack? [y/N] ").strip().lower() != "y":
        print("Nothing deleted.")
        return 1
    cloudformation.delete_stack(StackName=arguments.stack)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=arguments.stack)
    print(f"Stack {arguments.stack} deleted. Kept, with how to delete each for good:")
    for resource in keeping:
        print(f"- {resource.kind} {resource.physical_id}\n    {resource.for_good}")
    named = [resource for resource in keeping if resource.named]
    if named:
        print(
            f"Deploying a stack named {arguments.stack} again fails while these exist (their names are "
            "fixed by the template): delete them first, or deploy under another stack name."
        )
        for resource in named:
            print(f"- {resource.physical_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
