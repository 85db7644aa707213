"""Reading references in a synthesized template: what a `Ref` or `Fn::GetAtt` points at, and
which function a reference invokes (itself, or through its `live` alias). Shared by the
AsyncAPI generator and the infrastructure checks."""

from __future__ import annotations

from typing import Any


def target(value: Any) -> str | None:
    """The logical id a `Ref` or `Fn::GetAtt` points at."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def referenced(value: Any) -> str | None:
    """The first logical id a `Ref` or `Fn::GetAtt` anywhere inside `value` points at (an ARN
    built with `Fn::Join` too)."""
    if isinstance(value, dict):
        found = target(value)
        if found is not None:
            return found
        value = list(value.values())
    if isinstance(value, list):
        return next((found for item in value if (found := referenced(item)) is not None), None)
    return None


def invoked_function(resources: dict[str, Any], value: Any) -> str | None:
    """The logical id of the function a reference invokes: the function itself, or the one its
    alias (`live`) points at."""
    found = referenced(value)
    resource = resources.get(str(found), {})
    if resource.get("Type") == "AWS::Lambda::Alias":
        return target(resource["Properties"]["FunctionName"])
    return found
