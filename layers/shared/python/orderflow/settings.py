"""Typed settings, one model per function, read once from the environment.

Names come from `orderflow.contracts.Env`, the same constants `infra/` uses to set them.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from orderflow.contracts import Env


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class OrdersApiSettings(_Settings):
    orders_table: str = Field(alias=Env.ORDERS_TABLE)
    outbox_table: str = Field(alias=Env.OUTBOX_TABLE)
    catalogue_table: str = Field(alias=Env.CATALOGUE_TABLE)
    order_views_table: str = Field(alias=Env.ORDER_VIEWS_TABLE)
    idempotency_table: str = Field(alias=Env.IDEMPOTENCY_TABLE)
    idempotency_ttl_seconds: int = Field(default=86_400, alias=Env.IDEMPOTENCY_TTL_SECONDS, ge=60)
    outbox_retention_days: int = Field(default=7, alias=Env.OUTBOX_RETENTION_DAYS, ge=1)
    max_body_bytes: int = Field(default=16_384, alias=Env.MAX_BODY_BYTES, ge=1024)


class RelaySettings(_Settings):
    order_events_topic_arn: str = Field(alias=Env.ORDER_EVENTS_TOPIC_ARN)
    event_bus_name: str = Field(alias=Env.EVENT_BUS_NAME)


class ProjectorSettings(_Settings):
    order_views_table: str = Field(alias=Env.ORDER_VIEWS_TABLE)


class NotifierSettings(_Settings):
    notifications_table: str = Field(alias=Env.NOTIFICATIONS_TABLE)
    idempotency_table: str = Field(alias=Env.IDEMPOTENCY_TABLE)
    idempotency_ttl_seconds: int = Field(default=86_400, alias=Env.IDEMPOTENCY_TTL_SECONDS, ge=60)


class _WritesOutbox(_Settings):
    outbox_table: str = Field(alias=Env.OUTBOX_TABLE)
    outbox_retention_days: int = Field(default=7, alias=Env.OUTBOX_RETENTION_DAYS, ge=1)


class InventorySettings(_WritesOutbox):
    catalogue_table: str = Field(alias=Env.CATALOGUE_TABLE)
    reservations_table: str = Field(alias=Env.RESERVATIONS_TABLE)


class OrderStepsSettings(InventorySettings):
    orders_table: str = Field(alias=Env.ORDERS_TABLE)


class PaymentsSettings(_WritesOutbox):
    payments_table: str = Field(alias=Env.PAYMENTS_TABLE)
    # The provider: the simulated one (its ledger table) or a real one over HTTPS
    # (`orderflow.adapters.http_gateway`, its API key in Secrets Manager).
    payment_provider: Literal["simulated", "http"] = Field(default="simulated", alias=Env.PAYMENT_PROVIDER)
    ledger_table: str = Field(default="", alias=Env.LEDGER_TABLE)
    payment_provider_url: str = Field(default="", alias=Env.PAYMENT_PROVIDER_URL)
    payment_provider_secret_arn: str = Field(default="", alias=Env.PAYMENT_PROVIDER_SECRET_ARN)
    idempotency_table: str = Field(alias=Env.IDEMPOTENCY_TABLE)
    circuit_failure_threshold: int = Field(default=3, alias=Env.CIRCUIT_FAILURE_THRESHOLD, ge=1)
    circuit_recovery_seconds: int = Field(default=30, alias=Env.CIRCUIT_RECOVERY_SECONDS, ge=1)

    @model_validator(mode="after")
    def _provider_configured(self) -> PaymentsSettings:
        needed = {"simulated": ("ledger_table",), "http": ("payment_provider_url", "payment_provider_secret_arn")}
        missing = [name for name in needed[self.payment_provider] if not getattr(self, name)]
        if missing:
            raise ValueError(f"payment provider {self.payment_provider} needs {', '.join(missing)}")
        return self


class PaymentsConsumerSettings(PaymentsSettings):
    orders_table: str = Field(alias=Env.ORDERS_TABLE)  # read: is the saga done with this order?


class ShippingSettings(_WritesOutbox):
    shipments_table: str = Field(alias=Env.SHIPMENTS_TABLE)


class SagaStarterSettings(_Settings):
    state_machine_arn: str = Field(alias=Env.STATE_MACHINE_ARN)
    payment_deadline_seconds: int = Field(alias=Env.PAYMENT_DEADLINE_SECONDS, gt=0)


S = TypeVar("S", bound=_Settings)


@cache
def load(model: type[S]) -> S:
    """Read `model` from the environment once per process (a cold start)."""
    return model.model_validate(dict(os.environ))
