"""The event envelope: the CloudEvents-style metadata every orderflow event carries.

`sequence` is the version of the aggregate the event belongs to; consumers use it to reject
stale or out-of-order events. `version` is the schema version of `data` for this `type`:
a breaking change to a payload means a new version, never an edit of the old one.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, Self, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from orderflow.contracts import EventSource, EventType

DataT = TypeVar("DataT", bound=BaseModel)


class Payload(BaseModel):
    """Base of every event payload: immutable; unknown fields are ignored (tolerant reader), so a
    producer may add an optional field without breaking consumers still on the older model."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)


class Envelope(BaseModel, Generic[DataT]):
    """One event. Subclasses fix `type` and `data` (one class per event type)."""

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    event_type: ClassVar[EventType]
    schema_version: ClassVar[int] = 1

    id: str = Field(min_length=1, max_length=128, description="Unique event id; the dedup key.")
    type: EventType
    version: int = Field(ge=1, description="Schema version of `data` for this type.")
    source: EventSource
    subject: str = Field(min_length=1, max_length=128, description="The order id.")
    time: AwareDatetime
    correlation_id: str = Field(min_length=1, max_length=128)
    causation_id: str | None = Field(default=None, max_length=128)
    sequence: int = Field(ge=0, description="Aggregate version, for ordering.")
    data: DataT

    @classmethod
    def new(
        cls,
        *,
        source: EventSource,
        subject: str,
        data: DataT,
        correlation_id: str,
        sequence: int,
        causation_id: str | None = None,
        time: datetime | None = None,
        id: str | None = None,
    ) -> Self:
        """Raise a new event of this class's type."""
        return cls(
            id=id or str(uuid.uuid4()),
            type=cls.event_type,
            version=cls.schema_version,
            source=source,
            subject=subject,
            time=time or datetime.now(UTC),
            correlation_id=correlation_id,
            causation_id=causation_id,
            sequence=sequence,
            data=data,
        )

    @classmethod
    def template(
        cls,
        *,
        source: EventSource,
        id: Any,
        subject: Any,
        time: Any,
        correlation_id: Any,
        causation_id: Any,
        sequence: Any,
        data: dict[str, Any],
    ) -> dict[str, Any]:
        """This event as a template that another service fills in when it sends it (a Step
        Functions payload with JSONPath values, an EventBridge input transformer): this model's
        own field names, type and version, and `data` with exactly the payload's fields. The
        values are the caller's placeholders; the infrastructure never spells an envelope out."""
        payload = cls.model_fields["data"].annotation
        fields = getattr(payload, "model_fields", {})
        required = {name for name, field in fields.items() if field.is_required()}
        if not required <= set(data) <= set(fields):
            raise ValueError(
                f"{cls.event_type} data takes {sorted(fields)} (required {sorted(required)}), not {sorted(data)}"
            )
        return {
            "id": id,
            "type": str(cls.event_type),
            "version": cls.schema_version,
            "source": str(source),
            "subject": subject,
            "time": time,
            "correlation_id": correlation_id,
            "causation_id": causation_id,
            "sequence": sequence,
            "data": data,
        }

    def to_json(self) -> str:
        return self.model_dump_json()

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
