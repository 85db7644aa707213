"""The replacement guard: no change may make CloudFormation replace (or delete) a resource that
holds data in the data stack, the classic CDK data-loss accident.

CloudFormation replaces a resource when its logical id changes (a construct renamed or moved:
the old id is deleted, a new one created) or when a property whose update "requires
replacement" changes (a table's key schema, a queue becoming FIFO). Either way the new resource
is empty. `infra/stateful.json` records, for the production stage's data stack, every
resource that holds data with the properties whose change replaces it (from the CloudFormation
resource reference, "Update requires: Replacement"); the tests compare each synthesis with it.

A deliberate change (a migration that copies the data first) is accepted by rewriting the record:
`python -m infra.replacement --accept` (`make stateful`), reviewed like any other change.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

RECORD = Path(__file__).with_name("stateful.json")

# Resource types that hold data, and their properties whose change requires replacement
# (AWS CloudFormation User Guide, resource and property reference, each property's "Update requires").
REPLACED_BY: dict[str, tuple[str, ...]] = {
    "AWS::DynamoDB::Table": ("TableName", "KeySchema", "LocalSecondaryIndexes"),
    "AWS::SQS::Queue": ("QueueName", "FifoQueue"),
    "AWS::SNS::Topic": ("TopicName", "FifoTopic"),
    "AWS::KMS::Key": ("KeySpec", "KeyUsage", "MultiRegion"),
    "AWS::Events::EventBus": ("Name", "EventSourceName"),
    "AWS::Events::Archive": ("ArchiveName", "SourceArn"),
    "AWS::Logs::LogGroup": ("LogGroupName",),
}


def stateful(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each resource of `template` that holds data, with its replacement-triggering properties."""
    return {
        logical_id: {
            "Type": resource["Type"],
            "Properties": {
                name: resource.get("Properties", {})[name]
                for name in REPLACED_BY[resource["Type"]]
                if name in resource.get("Properties", {})
            },
        }
        for logical_id, resource in sorted(template["Resources"].items())
        if resource["Type"] in REPLACED_BY
    }


def replacements(record: dict[str, dict[str, Any]], template: dict[str, Any]) -> list[str]:
    """What deploying `template` would replace or delete of what `record` holds, and what holds
    data without being recorded (empty when the change is safe and the record current)."""
    current = stateful(template)
    problems = []
    for logical_id, before in record.items():
        after = current.get(logical_id)
        if after is None:
            problems.append(
                f"{logical_id} ({before['Type']}) is gone: CloudFormation would delete it, with its data "
                "(a renamed or moved construct changes its logical id; keep the id, or migrate the data first)"
            )
        elif after["Type"] != before["Type"]:
            problems.append(f"{logical_id}: {before['Type']} -> {after['Type']} replaces it, with its data")
        else:
            for name in sorted(set(before["Properties"]) | set(after["Properties"])):
                if before["Properties"].get(name) != after["Properties"].get(name):
                    problems.append(
                        f"{logical_id} ({before['Type']}): changing {name} makes CloudFormation replace it "
                        "with a new, empty one"
                    )
    problems.extend(
        f"{logical_id} ({after['Type']}) holds data and is not in {RECORD.name}: run `make stateful` to record it"
        for logical_id, after in current.items()
        if logical_id not in record
    )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.replacement", description=__doc__)
    parser.add_argument("--accept", action="store_true", help="record the current data stack as the baseline")
    arguments = parser.parse_args(argv)
    from infra.synthesis import production_data_template

    template = production_data_template()
    if arguments.accept:
        RECORD.write_text(json.dumps(stateful(template), indent=1) + "\n")
        print(f"wrote {RECORD}")
        return 0
    problems = replacements(json.loads(RECORD.read_text()), template)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
