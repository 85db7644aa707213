"""The committed JSON schema of every event type, and the rule that keeps them compatible.

`schemas/<Type>.v<version>.json` is the published contract of that event version. A model change
that breaks it (a property removed or retyped, a new required property, a tightened limit, an
enum value dropped) must become a new version instead. `python -m orderflow.events.schema_registry
--write` (`make schemas`) regenerates the files and refuses a breaking change.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from orderflow.events import EVENT_MODELS, Envelope

SCHEMA_DIR = Path(__file__).parent / "schemas"
_NOT_LOWER = ("maxLength", "maximum", "maxItems")
_NOT_HIGHER = ("minLength", "minimum", "minItems")


def schema_file(model: type[Envelope[Any]]) -> Path:
    return SCHEMA_DIR / f"{model.event_type}.v{model.schema_version}.json"


def current_schema(model: type[Envelope[Any]]) -> dict[str, Any]:
    return model.model_json_schema(mode="validation")


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = defs[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _narrowed(path: str, before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Values `before` accepted that `after` refuses: a dropped enum value or a tighter limit."""
    problems = []
    if "enum" in before and not set(before["enum"]) <= set(after.get("enum", before["enum"])):
        problems.append(f"{path}: enum values removed {sorted(set(before['enum']) - set(after['enum']))}")
    for key in _NOT_LOWER:
        if key in after and (key not in before or after[key] < before[key]):
            problems.append(f"{path}: {key} tightened {before.get(key)} -> {after[key]}")
    for key in _NOT_HIGHER:
        if key in after and (key not in before or after[key] > before[key]):
            problems.append(f"{path}: {key} tightened {before.get(key)} -> {after[key]}")
    return problems


def breaking_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What in `new` breaks readers or writers of `old` (empty when compatible)."""
    problems: list[str] = []
    old_defs, new_defs = old.get("$defs", {}), new.get("$defs", {})

    def walk(path: str, before: dict[str, Any], after: dict[str, Any]) -> None:
        before, after = _resolve(before, old_defs), _resolve(after, new_defs)
        if before.get("type") != after.get("type"):
            problems.append(f"{path}: type {before.get('type')} -> {after.get('type')}")
            return
        problems.extend(_narrowed(path, before, after))
        if "anyOf" in before or "anyOf" in after:
            if len(before.get("anyOf", [])) != len(after.get("anyOf", [])):
                problems.append(f"{path}: alternatives changed")
                return
            for index, (b, a) in enumerate(zip(before.get("anyOf", []), after.get("anyOf", []), strict=True)):
                walk(f"{path}|{index}", b, a)
        before_props, after_props = before.get("properties", {}), after.get("properties", {})
        for name in before_props:
            if name not in after_props:
                problems.append(f"{path}.{name}: removed")
            else:
                walk(f"{path}.{name}", before_props[name], after_props[name])
        newly_required = set(after.get("required", [])) - set(before.get("required", []))
        problems.extend(f"{path}.{name}: newly required" for name in sorted(newly_required))
        if "items" in before and "items" in after:
            walk(f"{path}[]", before["items"], after["items"])

    walk("$", old, new)
    return problems


def check_all() -> dict[str, list[str]]:
    """Breaking changes per committed schema file (missing files count as a problem)."""
    report: dict[str, list[str]] = {}
    for model in EVENT_MODELS.values():
        path = schema_file(model)
        if not path.exists():
            report[path.name] = ["not committed yet: run `make schemas`"]
            continue
        problems = breaking_changes(json.loads(path.read_text()), current_schema(model))
        if problems:
            report[path.name] = problems
    return report


def write_all() -> int:
    blocking = {name: problems for name, problems in check_all().items() if not problems[0].startswith("not committed")}
    if blocking:
        for name, problems in blocking.items():
            print(f"{name}: breaking change for the same version; add a new version instead:", file=sys.stderr)
            for problem in problems:
                print(f"  {problem}", file=sys.stderr)
        return 1
    SCHEMA_DIR.mkdir(exist_ok=True)
    for model in EVENT_MODELS.values():
        schema_file(model).write_text(json.dumps(current_schema(model), indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(EVENT_MODELS)} schemas to {SCHEMA_DIR}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="regenerate the committed schema files")
    arguments = parser.parse_args()
    if arguments.write:
        sys.exit(write_all())
    failures = check_all()
    for file_name, found in failures.items():
        print(f"{file_name}: {'; '.join(found)}")
    sys.exit(1 if failures else 0)
