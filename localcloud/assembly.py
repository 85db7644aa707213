"""A stage's stacks as one deployment: what the local cloud provisions and the tests read.

A stage is two stacks (`infra/stack.py`); the app stack reads the data stack's resources through
CloudFormation exports (`Fn::ImportValue`). CloudFormation resolves an import to the value the
exporting stack's output holds; merging the templates does the same before anything is
provisioned: each import becomes the exporting output's own value (a `Ref` or `Fn::GetAtt` of a
resource in the data stack), so one deployment holds both stacks' resources, keyed by logical id.
An import no stack exports, or one logical id in two stacks, is an error, as a deploy would fail.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STACK_TYPE = "aws:cloudformation:stack"


class AssemblyError(Exception):
    pass


def stacks(outdir: Path) -> list[tuple[str, dict[str, Any]]]:
    """The cloud assembly's stacks in deployment order (each after the stacks it depends on)."""
    artifacts = json.loads((outdir / "manifest.json").read_text())["artifacts"]
    found = {name: artifact for name, artifact in artifacts.items() if artifact["type"] == STACK_TYPE}
    ordered: list[str] = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in ordered:
            return
        if name in path:
            raise AssemblyError(f"stacks depend on each other: {' -> '.join((*path, name))}")
        for dependency in found[name].get("dependencies", []):
            if dependency in found:
                visit(dependency, (*path, name))
        ordered.append(name)

    for name in sorted(found):
        visit(name, ())
    return [(name, json.loads((outdir / found[name]["properties"]["templateFile"]).read_text())) for name in ordered]


def merge(templates: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """One template of the stacks' resources and outputs, every `Fn::ImportValue` replaced by the
    value its export holds. `Metadata.aws:cdk:stack` on each resource names its stack; the
    template's `Metadata.aws:cdk:stacks` lists each stack's outputs, in deployment order."""
    exports: dict[str, Any] = {}
    owners: dict[str, list[str]] = {}
    merged: dict[str, Any] = {"Resources": {}, "Outputs": {}, "Metadata": {"aws:cdk:stacks": owners}}
    for stack, template in templates:
        owners[stack] = list(template.get("Outputs", {}))
        for logical_id, resource in template.get("Resources", {}).items():
            if logical_id in merged["Resources"]:
                raise AssemblyError(f"{logical_id} is in two stacks ({stack} and another)")
            metadata = {**resource.get("Metadata", {}), "aws:cdk:stack": stack}
            merged["Resources"][logical_id] = {**_imported(resource, exports, stack), "Metadata": metadata}
        for name, output in template.get("Outputs", {}).items():
            value = _imported(output["Value"], exports, stack)
            export = output.get("Export", {}).get("Name")
            if export is not None:
                exports[str(export)] = value
            if name in merged["Outputs"] and not name.startswith("ExportsOutput"):
                raise AssemblyError(f"output {name} is in two stacks")
            merged["Outputs"][name] = {**output, "Value": value}
    return merged


def _imported(value: Any, exports: dict[str, Any], stack: str) -> Any:
    if isinstance(value, list):
        return [_imported(item, exports, stack) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Fn::ImportValue"}:
        name = value["Fn::ImportValue"]
        if not isinstance(name, str) or name not in exports:
            raise AssemblyError(f"{stack} imports {name!r}, which no stack deployed before it exports")
        return exports[name]
    return {key: _imported(item, exports, stack) for key, item in value.items()}


def write_merged(outdir: Path, target: Path) -> Path:
    target.write_text(json.dumps(merge(stacks(outdir)), indent=1))
    return target
