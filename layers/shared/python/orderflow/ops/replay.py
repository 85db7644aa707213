"""Replaying archived events back onto the bus (EventBridge archive replay)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any


def _archive(events: Any) -> dict[str, Any]:
    archives = list(events.list_archives()["Archives"])
    if len(archives) != 1:
        raise SystemExit(f"expected one event archive, found {[a['ArchiveName'] for a in archives]}")
    return dict(events.describe_archive(ArchiveName=archives[0]["ArchiveName"]))


def _rules_for(events: Any, bus: str, event_type: str) -> list[str]:
    """The bus's rules that match `event_type` (replay delivers to these only)."""
    arns = []
    for rule in events.list_rules(EventBusName=bus)["Rules"]:
        pattern = json.loads(rule.get("EventPattern") or "{}")
        if event_type in pattern.get("detail-type", []):
            arns.append(rule["Arn"])
    if not arns:
        raise SystemExit(f"no rule on {bus} matches {event_type}: nothing would receive the replay")
    return arns


def replay(
    events: Any,
    *,
    start: datetime,
    end: datetime,
    event_type: str | None = None,
    progress: Callable[[str], None] = print,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Replay the archive's events between `start` and `end` to the bus they came from, and
    wait for the replay to finish. Consumers ignore events they applied before."""
    archive = _archive(events)
    bus_arn = archive["EventSourceArn"]
    destination: dict[str, Any] = {"Arn": bus_arn}
    if event_type:
        destination["FilterArns"] = _rules_for(events, bus_arn.rsplit("/", 1)[-1], event_type)
    name = f"orderflow-replay-{int(time.time())}"
    events.start_replay(
        ReplayName=name,
        EventSourceArn=archive["ArchiveArn"],
        EventStartTime=start,
        EventEndTime=end,
        Destination=destination,
    )
    deadline = time.monotonic() + timeout
    state: dict[str, Any] = {}
    while time.monotonic() < deadline:
        state = dict(events.describe_replay(ReplayName=name))
        progress(f"replay {name}: {state['State']}")
        if state["State"] in ("COMPLETED", "FAILED", "CANCELLED"):
            break
        time.sleep(1)
    return {"name": name, "state": state.get("State"), "reason": state.get("StateReason")}
