"""The outbox relay: the only publisher of domain events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orderflow.adapters.publishers import EventPublisher
from orderflow.events import Envelope


def relay(event: Envelope[Any], publishers: Sequence[EventPublisher]) -> None:
    """Publish to every router. A failure raises, the stream record is retried and both
    publishes happen again: consumers are idempotent on event id, and SNS FIFO deduplicates."""
    for publisher in publishers:
        publisher.publish(event)
