from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from orderflow.contracts import EventType
from orderflow.events import EVENT_MODELS, parse_event
from orderflow.events.models import OrderCreated
from tests.support.factories import order_confirmed, order_created


def test_every_design_event_type_has_a_model() -> None:
    # Given the event types of DESIGN.md / When listing the models / Then each has exactly one
    assert set(EVENT_MODELS) == set(EventType)


def test_envelope_round_trips_through_json_into_its_own_class() -> None:
    event = order_created("order-9", sequence=1)

    parsed = parse_event(event.to_json())

    assert isinstance(parsed, OrderCreated)
    assert parsed == event
    assert json.loads(event.to_json())["data"]["total"] == "178.00"  # money stays exact


def test_unknown_event_type_is_rejected() -> None:
    raw = json.loads(order_confirmed().to_json())
    raw["type"] = "OrderTeleported"

    with pytest.raises(ValidationError, match="OrderTeleported"):
        parse_event(json.dumps(raw))


def test_payload_breaking_its_schema_is_rejected() -> None:
    raw = json.loads(order_created().to_json())
    raw["data"]["items"] = []

    with pytest.raises(ValidationError, match=r"data\.items"):
        parse_event(json.dumps(raw))


def test_consumer_tolerates_a_field_added_by_a_newer_producer() -> None:
    raw = json.loads(order_confirmed().to_json())
    raw["data"]["loyalty_points"] = 12

    parsed = parse_event(json.dumps(raw))

    assert parsed.type is EventType.ORDER_CONFIRMED


def test_event_time_must_carry_a_timezone() -> None:
    raw = json.loads(order_created().to_json())
    raw["time"] = "2026-11-01T12:00:00"

    with pytest.raises(ValidationError, match="time"):
        parse_event(json.dumps(raw))


def test_non_json_is_rejected() -> None:
    with pytest.raises(ValidationError):
        parse_event("not json")


def test_an_envelope_template_is_the_models_own_envelope_once_filled() -> None:
    from decimal import Decimal

    from orderflow.contracts import EventSource
    from orderflow.events.models import ProcessPayment

    template = ProcessPayment.template(
        source=EventSource.SAGA,
        id="cmd-1",
        subject="o-1",
        time="2026-12-02T10:00:00Z",
        correlation_id="corr-1",
        causation_id="evt-1",
        sequence=1,
        data={"amount": "9.90", "currency": "EUR", "payment_token": "tok_ok", "task_token": "token"},
    )

    command = ProcessPayment.model_validate(template)
    assert (command.type, command.version, command.data.amount) == ("ProcessPayment", 1, Decimal("9.90"))


def test_an_envelope_template_refuses_data_the_payload_does_not_have() -> None:
    from orderflow.contracts import EventSource
    from orderflow.events.models import LowStock

    with pytest.raises(ValueError, match="LowStock data takes"):
        LowStock.template(
            source=EventSource.INVENTORY,
            id="e",
            subject="o",
            time="t",
            correlation_id="c",
            causation_id="x",
            sequence=0,
            data={"sku": "KB-001", "available": 1, "limit": 5},
        )
