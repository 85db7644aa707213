"""The committed schemas are the published contract: a breaking change for the same version fails."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from orderflow.events import EVENT_MODELS
from orderflow.events.schema_registry import breaking_changes, check_all, current_schema, schema_file


def test_committed_schemas_are_compatible_with_the_models() -> None:
    assert check_all() == {}


@pytest.mark.parametrize("model", list(EVENT_MODELS.values()), ids=lambda model: model.__name__)
def test_committed_schema_is_up_to_date(model: Any) -> None:
    # A compatible change still has to be committed (`make schemas`) so consumers can see it.
    assert json.loads(schema_file(model).read_text()) == current_schema(model)


@pytest.fixture
def schema() -> dict[str, Any]:
    return current_schema(EVENT_MODELS[next(iter(EVENT_MODELS))])


def _data(schema: dict[str, Any]) -> dict[str, Any]:
    return schema["$defs"]["OrderCreatedData"]


def test_removing_a_property_is_breaking(schema: dict[str, Any]) -> None:
    changed = copy.deepcopy(schema)
    del _data(changed)["properties"]["customer_id"]

    assert breaking_changes(schema, changed) == ["$.data.customer_id: removed"]


def test_changing_a_type_is_breaking(schema: dict[str, Any]) -> None:
    changed = copy.deepcopy(schema)
    _data(changed)["properties"]["customer_id"] = {"type": "integer"}

    assert breaking_changes(schema, changed) == ["$.data.customer_id: type string -> integer"]


def test_a_new_required_property_is_breaking(schema: dict[str, Any]) -> None:
    changed = copy.deepcopy(schema)
    _data(changed)["properties"]["channel"] = {"type": "string"}
    _data(changed)["required"].append("channel")

    assert breaking_changes(schema, changed) == ["$.data.channel: newly required"]


def test_tightening_a_limit_is_breaking(schema: dict[str, Any]) -> None:
    changed = copy.deepcopy(schema)
    _data(changed)["properties"]["customer_id"]["maxLength"] = 10

    assert breaking_changes(schema, changed) == ["$.data.customer_id: maxLength tightened 128 -> 10"]


def test_dropping_an_enum_value_is_breaking(schema: dict[str, Any]) -> None:
    changed = copy.deepcopy(schema)
    changed["$defs"]["Currency"]["enum"].remove("GBP")

    assert breaking_changes(schema, changed) == ["$.data.currency: enum values removed ['GBP']"]


def test_an_optional_property_is_compatible(schema: dict[str, Any]) -> None:
    changed = copy.deepcopy(schema)
    _data(changed)["properties"]["gift_message"] = {"type": "string", "default": ""}

    assert breaking_changes(schema, changed) == []
