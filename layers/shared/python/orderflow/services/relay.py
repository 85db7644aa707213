"""The outbox relay: the only publisher of domain events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from orderflow.adapters.publishers import EventPublisher, Refused
from orderflow.events import Envelope


def relay(events: Sequence[Envelope[Any]], publishers: Sequence[EventPublisher]) -> Refused | None:
    """Publish `events`, in stream order, to every router, in batches. Returns the first event
    not published by every router (None: all were). The caller retries from that event; what a
    router had already taken is published again, and SNS FIFO deduplicates it by event id and
    consumers ignore an event they have applied."""
    first: Refused | None = None
    for publisher in publishers:
        # A later router gets only what every earlier one took: nothing runs ahead of a refusal.
        refused = publisher.publish(events[: first.index] if first else events)
        if refused is not None:
            first = refused
    return first
