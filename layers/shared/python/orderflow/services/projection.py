"""Keeping the order read model up to date from order events."""

from __future__ import annotations

from enum import StrEnum

from orderflow.adapters.errors import AlreadyExists
from orderflow.domain.order_view import Outcome, project, timeline_entry
from orderflow.events import AnyEvent
from orderflow.services.unit_of_work import UnitOfWork, retry_on_conflict


class Applied(StrEnum):
    APPLIED = "applied"
    STALE = "stale"
    TIMELINE_ONLY = "timeline_only"
    DUPLICATE = "duplicate"


def apply_event(uow: UnitOfWork, event: AnyEvent) -> Applied:
    """Apply one event exactly once. The timeline entry and the summary change are written in
    one transaction, so a crash between them cannot leave a half-applied event behind."""

    def attempt() -> Applied:
        with uow:
            view, _ = uow.views.get(event.subject)
            new_view, outcome = project(view, event)
            expected = view.last_sequence if view is not None else None
            uow.views.record(event.subject, timeline_entry(event), new_view, expected_sequence=expected)
            uow.commit()
        return Applied(outcome.value) if outcome is not Outcome.APPLIED else Applied.APPLIED

    try:
        return retry_on_conflict(attempt)
    except AlreadyExists:
        return Applied.DUPLICATE
