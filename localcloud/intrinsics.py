"""Resolving CloudFormation intrinsic functions against locally provisioned resources."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Lookup = Callable[[str, str | None], Any]  # (logical id, attribute or None for Ref) -> value


class UnsupportedIntrinsic(Exception):
    pass


def resolve(value: Any, lookup: Lookup, pseudo: dict[str, str]) -> Any:
    """Replace every intrinsic in `value` (recursively) with its local value."""
    if isinstance(value, list):
        return [resolve(item, lookup, pseudo) for item in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, argument),) = value.items()
        if key == "Ref":
            return pseudo[argument] if argument in pseudo else lookup(argument, None)
        if key == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return lookup(logical_id, attribute)
        if key == "Fn::Join":
            separator, parts = argument
            return separator.join(str(part) for part in resolve(parts, lookup, pseudo))
        if key == "Fn::Select":
            index, items = resolve(argument, lookup, pseudo)
            return items[int(index)]
        if key == "Fn::Split":
            separator, text = resolve(argument, lookup, pseudo)
            return text.split(separator)
        if key == "Fn::Sub":
            return _sub(argument, lookup, pseudo)
        if key.startswith("Fn::"):
            raise UnsupportedIntrinsic(f"{key} is not supported by the local cloud")
    return {key: resolve(item, lookup, pseudo) for key, item in value.items()}


def _sub(argument: Any, lookup: Lookup, pseudo: dict[str, str]) -> str:
    text, variables = (argument, {}) if isinstance(argument, str) else argument
    variables = resolve(variables, lookup, pseudo)

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            return str(variables[name])
        if name in pseudo:
            return pseudo[name]
        logical_id, _, attribute = name.partition(".")
        return str(lookup(logical_id, attribute or None))

    return re.sub(r"\$\{([^}!]+)\}", replace, text)
