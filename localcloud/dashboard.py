"""The local dashboard: `make local` serves it at http://127.0.0.1:3000/_local/ — queues and
DLQs, orders by status, the metric counters the functions emitted (EMF), and recent log lines,
filterable by correlation id. `/_local/state.json` is the same as data; `/_local/dashboards.json`
is the template's CloudWatch dashboards, widget by widget, with their series from the local
CloudWatch, and the alarms' states."""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from localcloud.cloud import LocalCloud
from localcloud.cloudwatch import GRAPHED_SECONDS
from localcloud.state import reason
from localcloud.synth import ROOT
from orderflow.adapters.dynamodb import from_item
from orderflow.ops import dlq, failures

LOG_LINES = 200


def _queues(cloud: LocalCloud) -> list[dict[str, Any]]:
    sqs = cloud.client("sqs")
    dead_letter_targets = {
        resource["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for resource in cloud.deployment.of_type("AWS::SQS::Queue").values()
        if "RedrivePolicy" in resource.get("Properties", {})
    }
    rows = []
    for logical_id in sorted(cloud.deployment.of_type("AWS::SQS::Queue")):
        attributes = sqs.get_queue_attributes(
            QueueUrl=cloud.deployment.value(logical_id),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        rows.append(
            {
                "queue": cloud.deployment.value(logical_id, "QueueName"),
                "dead_letter": logical_id in dead_letter_targets or "Failures" in logical_id,
                "visible": int(attributes["ApproximateNumberOfMessages"]),
                "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
            }
        )
    return rows


def _orders(cloud: LocalCloud) -> dict[str, int]:
    paginator = cloud.client("dynamodb").get_paginator("scan")
    statuses: Counter[str] = Counter()
    for page in paginator.paginate(TableName=cloud.table_name("OrderViews")):
        for item in map(from_item, page["Items"]):
            if item.get("sk") == "SUMMARY":
                statuses[str(item["status"])] += 1
    return dict(sorted(statuses.items()))


def _metrics(cloud: LocalCloud) -> list[dict[str, Any]]:
    """Counts summed, durations as their latest value, per service and metric."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for _, entry in list(cloud.activity.logs):
        if not isinstance(entry, dict) or "_aws" not in entry:
            continue
        for directive in entry["_aws"]["CloudWatchMetrics"]:
            if any(len(dimensions) > 1 for dimensions in directive["Dimensions"]):
                continue  # the per-type / per-reason copies; the totals are counted once
            for metric in directive["Metrics"]:
                values = entry.get(metric["Name"], 0)
                value = sum(values) if isinstance(values, list) else values
                key = (str(entry.get("service", "?")), metric["Name"])
                row = totals.setdefault(
                    key, {"service": key[0], "metric": key[1], "unit": metric.get("Unit"), "value": 0}
                )
                row["value"] = row["value"] + value if metric.get("Unit") == "Count" else round(value, 1)
    return sorted(totals.values(), key=lambda row: (row["service"], row["metric"]))


def _logs(cloud: LocalCloud, correlation_id: str | None) -> list[dict[str, Any]]:
    lines = []
    for function, entry in reversed(list(cloud.activity.logs)):
        if not isinstance(entry, dict) or "_aws" in entry or "message" not in entry:
            continue
        if correlation_id and entry.get("correlation_id") != correlation_id:
            continue
        lines.append(
            {
                "time": entry.get("timestamp"),
                "function": entry.get("service", function),
                "level": entry.get("level"),
                "message": entry.get("message"),
                "correlation_id": entry.get("correlation_id"),
                "order_id": entry.get("order_id"),
            }
        )
        if len(lines) >= LOG_LINES:
            break
    return lines


def state(cloud: LocalCloud, correlation_id: str | None = None) -> dict[str, Any]:
    return {
        "orders": _orders(cloud),
        "queues": _queues(cloud),
        "metrics": _metrics(cloud),
        "logs": _logs(cloud, correlation_id),
    }


def dashboards(cloud: LocalCloud, query: dict[str, list[str]]) -> dict[str, Any]:
    """The dashboards named (`name=`; the first by default), widget by widget, with their
    metrics over the last `range` local seconds (default 300; CloudWatch's time runs faster, see
    localcloud/cloudwatch.py), every dashboard's name and the alarms' states."""
    seconds = min(float(query.get("range", ["300"])[0] or 300), GRAPHED_SECONDS)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError("range must be a number of seconds above 0")
    now = time.time()
    every = sorted(cloud.cloudwatch.dashboards)
    names = query.get("name") or every[:1]
    return {
        "names": every,
        "time_scale": cloud.cloudwatch.time_scale,
        "start": now - seconds,
        "end": now,
        "dashboards": [
            {"name": name, "widgets": cloud.cloudwatch.dashboard(name, now - seconds, now)}
            for name in names
            if name in cloud.cloudwatch.dashboards
        ],
        "alarms": [
            {"name": name, "state": state.value, "reason": state.reason}
            for name, state in sorted(cloud.cloudwatch.states.items())
        ],
        "notifications": [
            {key: n.get(key) for key in ("alarm", "state", "topic", "delivered", "error")}
            for n in list(cloud.cloudwatch.notifications)[-10:]
        ],
    }


def _json(data: Any, status: int = 200) -> tuple[int, list[tuple[str, str]], bytes]:
    body = json.dumps(data, default=str, allow_nan=False).encode()
    return status, [("Content-Type", "application/json"), ("Cache-Control", "no-store")], body


def dead_letters(cloud: LocalCloud) -> dict[str, Any]:
    """Every DLQ and failure destination, with what each holds grouped by failure reason (the
    operator CLI's reading: `orderflow.ops.dlq`)."""
    sqs = cloud.client("sqs")
    queues = []
    for queue in dlq.dead_letter_queues(sqs):
        letters = dlq.show(sqs, queue, reason_for=partial(reason, cloud)) if queue.depth else []
        groups: dict[str, list[dict[str, Any]]] = {}
        for letter in letters:
            groups.setdefault(letter.reason, []).append(asdict(letter))
        queues.append(
            {
                "name": queue.name,
                "depth": len(letters),
                "source": queue.source_url.rsplit("/", 1)[-1] if queue.source_url else None,
                "fifo": queue.fifo,
                "reasons": [{"reason": why, "letters": group} for why, group in groups.items()],
            }
        )
    return {"queues": queues}


def redrive(cloud: LocalCloud, body: bytes) -> tuple[int, dict[str, Any]]:
    """Redrive a DLQ, or only the messages named (`{"queue": ..., "message_ids": [...]}`), with
    the operator CLI's code: each message keeps its FIFO group, oldest first."""
    try:
        request = json.loads(body or b"{}")
        name, ids = str(request["queue"]), request.get("message_ids", None)
        if "message_ids" in request and not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
            raise TypeError("message_ids")
    except (ValueError, KeyError, TypeError, AttributeError):
        return 400, {"message": 'expected {"queue": NAME, "message_ids": [ID, ...] (optional)}'}
    sqs = cloud.client("sqs")
    queue = next((q for q in dlq.dead_letter_queues(sqs) if q.name == name), None)
    if queue is None:
        return 404, {"message": f"no dead-letter queue {name}"}
    if queue.source_url is None:
        if ids is not None:
            return 400, {"message": f"{name} is a failure destination: its records are redriven together"}
        outcome = failures.redrive(cloud.client, queue, per_second=100)
        return 200, {"queue": name, "redriven": outcome.redriven, "kept": outcome.kept}
    moved = dlq.redrive(sqs, queue, only=None if ids is None else set(ids), per_second=100)
    behind = [i for i in ids or [] if i not in moved.moved_ids]
    return 200, {
        "queue": name,
        "redriven": moved.moved,
        "kept": [f"{i}: behind a message of its FIFO group that stays, or gone" for i in behind],
    }


def serve(
    cloud: LocalCloud,
    method: str,
    path: str,
    *,
    query: str = "",
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> tuple[int, list[tuple[str, str]], bytes]:
    """Answers for `/_local/...` on the local API's port."""
    if path.rstrip("/") == "/_local/state.json":
        correlation_id = parse_qs(query).get("correlation_id", [""])[0] or None
        body = json.dumps(state(cloud, correlation_id), default=str).encode()
        return 200, [("Content-Type", "application/json"), ("Cache-Control", "no-store")], body
    if path in ASSETS:  # the charting library, from this checkout: nothing from the network
        file, kind = ASSETS[path]
        if not (CHARTING / file).exists():
            return 404, [("Content-Type", "text/plain")], b"uPlot is not installed: run make setup"
        return 200, [("Content-Type", kind), ("Cache-Control", "max-age=3600")], (CHARTING / file).read_bytes()
    if path.rstrip("/") == "/_local/dead-letters.json":
        return _json(dead_letters(cloud))
    if path.rstrip("/") == "/_local/redrive":
        if method != "POST":
            return 405, [("Content-Type", "application/json"), ("Allow", "POST")], b'{"message": "POST only"}'
        named = {name.lower(): value for name, value in (headers or {}).items()}
        origin = named.get("origin")
        if not named.get("content-type", "").startswith("application/json") or (
            origin is not None and urlsplit(origin).hostname not in ("127.0.0.1", "localhost")
        ):  # only the page itself (or a local tool) may redrive: no cross-site form posts
            return _json({"message": "a JSON request from the local page only"}, 403)
        status, answer = redrive(cloud, body)
        return _json(answer, status)
    if path.rstrip("/") == "/_local/dashboards.json":
        try:
            return _json(dashboards(cloud, parse_qs(query)))
        except ValueError as bad:
            return _json({"message": str(bad)}, 400)
    if path.rstrip("/") == "/_local":
        return 200, [("Content-Type", "text/html; charset=utf-8")], PAGE.encode()
    return 404, [("Content-Type", "application/json")], b'{"message": "not found"}'


PAGE = (Path(__file__).parent / "dashboard.html").read_text()
CHARTING = ROOT / "node_modules" / "uplot" / "dist"  # uPlot, pinned in package.json
ASSETS = {
    "/_local/uplot.js": ("uPlot.iife.min.js", "text/javascript; charset=utf-8"),
    "/_local/uplot.css": ("uPlot.min.css", "text/css; charset=utf-8"),
}
