"""Keeping the order read model up to date from order events."""

from __future__ import annotations

from enum import StrEnum

from orderflow.adapters.errors import AlreadyExists
from orderflow.adapters.order_views import OrderViewStore
from orderflow.domain.order_view import Outcome, project, timeline_entry
from orderflow.events import AnyEvent


class Applied(StrEnum):
    APPLIED = "applied"
    STALE = "stale"
    TIMELINE_ONLY = "timeline_only"
    DUPLICATE = "duplicate"


def apply_event(store: OrderViewStore, event: AnyEvent) -> Applied:
    """Apply one event exactly once. The timeline entry and the summary change are written in
    one transaction, so a crash between them cannot leave a half-applied event behind."""
    view, _ = store.get(event.subject)
    new_view, outcome = project(view, event)
    expected = view.last_sequence if view is not None else None
    try:
        store.record(event.subject, timeline_entry(event), new_view, expected_sequence=expected)
    except AlreadyExists:
        return Applied.DUPLICATE
    return Applied(outcome.value) if outcome is not Outcome.APPLIED else Applied.APPLIED
