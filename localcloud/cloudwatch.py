"""CloudWatch on the local cloud: the metrics AWS would publish for the stack and the metrics its
functions write, and the template's alarms evaluated from them, changing state and notifying
their actions as CloudWatch does. One entry point, `CloudWatch`.

Metrics (as each service documents them):
- `AWS/Lambda` by `FunctionName`: `Invocations`, `Errors`, `Throttles`, `Duration` for every
  invocation the local runtime runs or refuses; `IteratorAge` for every stream batch.
- `AWS/SQS` by `QueueName`: `ApproximateNumberOfMessagesVisible` and
  `ApproximateAgeOfOldestMessage`, sampled once a (local) minute as SQS publishes them.
- `AWS/States` by `StateMachineArn`: `ExecutionsStarted`, `ExecutionsSucceeded`,
  `ExecutionsFailed`, `ExecutionsTimedOut`, `ExecutionsAborted`, as executions reach each status.
- `AWS/ApiGateway` by `ApiName` and `Stage`: `Count`, `4XXError` and `5XXError` (0 or 1 per
  request, so their average is a rate), `Latency`.
- the functions' own metrics, from the embedded metric format lines they print (Powertools).
Each is aggregated as CloudWatch keeps a datapoint (sample count, sum, minimum, maximum) and
copied into moto's CloudWatch (one datapoint per metric and local second, the last hour), so
`aws cloudwatch get-metric-data` and `list-metrics` on the local endpoint show them.

Time. CloudWatch's periods run `time_scale` times faster than on AWS (60 by default: a minute is
a second locally, so a 300-second period lasts 5 seconds and SQS's per-minute samples come every
second), as the saga's timings are scaled; alarms are evaluated once per (local) minute.

Alarms (CloudWatch User Guide, "Using Amazon CloudWatch alarms"). Each alarm of the template is
created in moto (so `describe-alarms` lists it), starts in `INSUFFICIENT_DATA` and is evaluated
from its own definition: its statistic over each of its last `EvaluationPeriods` periods; `ALARM`
when at least `DatapointsToAlarm` of them breach the threshold, else `OK`; a period with no data
is treated as `TreatMissingData` says: `notBreaching` good, `breaching` bad, `missing` and
`ignore` left out (then every period missing is `INSUFFICIENT_DATA` for `missing`, the state kept
for `ignore`). CloudWatch, when some periods are missing, may reach further back for
datapoints; this does not. On a change, moto's alarm gets the state and its reason, a report is
made (`make local` prints it), and the actions for the new state are notified: CloudWatch's JSON
message published to each SNS topic as `cloudwatch.amazonaws.com` acting for the alarm, through
the endpoint's permission checks (the topic's policy and its key's policy) like every other
delivery. A denied notification is dropped, as CloudWatch drops it (AWS notes it in the
alarm's history; here the denials list and `notifications` do).

Datapoints are kept per CloudWatch second, so a period is exactly its length whatever the scale;
an evaluation covers the CloudWatch seconds already finished, and what arrives later in the
second still running falls in the next evaluation's latest period.
"""

from __future__ import annotations

import bisect
import json
import math
import operator
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from localcloud import metric_math

MetricKey = tuple[str, str, tuple[tuple[str, str], ...]]  # namespace, name, sorted dimensions

OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"
COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
STATISTICS = ("SampleCount", "Sum", "Average", "Minimum", "Maximum")
# The execution statuses Step Functions counts, and the metric each one is.
EXECUTION_METRICS = {
    "SUCCEEDED": "ExecutionsSucceeded",
    "FAILED": "ExecutionsFailed",
    "TIMED_OUT": "ExecutionsTimedOut",
    "ABORTED": "ExecutionsAborted",
}
PUT_LIMIT = 500  # datapoints per PutMetricData call (CloudWatch takes 1,000)
GRAPHED_SECONDS = 3600.0  # how far back (local seconds) the dashboards can be drawn
DEFAULT_PERIOD = 300  # a dashboard widget's period when it names none (CloudWatch's default)


def metric_key(namespace: str, name: str, dimensions: Mapping[str, str]) -> MetricKey:
    """A metric's identity: CloudWatch treats each combination of dimensions as its own metric."""
    return namespace, name, tuple(sorted((str(k), str(v)) for k, v in dimensions.items()))


@dataclass
class Datapoint:
    """One CloudWatch second of a metric, as CloudWatch aggregates what it receives (the values
    too, for percentiles)."""

    count: int = 0
    total: float = 0.0
    low: float = float("inf")
    high: float = float("-inf")
    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.low = min(self.low, value)
        self.high = max(self.high, value)
        self.values.append(value)

    def merge(self, other: Datapoint) -> None:
        self.count += other.count
        self.total += other.total
        self.low = min(self.low, other.low)
        self.high = max(self.high, other.high)
        self.values.extend(other.values)

    def statistic(self, name: str) -> float:
        if _PERCENTILE.fullmatch(name):
            ordered = sorted(self.values)  # nearest rank
            return ordered[max(0, math.ceil(float(name[1:]) / 100 * len(ordered)) - 1)]
        return {
            "SampleCount": float(self.count),
            "Sum": self.total,
            "Average": self.total / self.count,
            "Minimum": self.low,
            "Maximum": self.high,
        }[name]


_PERCENTILE = re.compile(r"p(100|[0-9]{1,2}(\.[0-9]+)?)")


def known_statistic(name: str) -> bool:
    return name in STATISTICS or _PERCENTILE.fullmatch(name) is not None


class Metrics:
    """Every metric's datapoints per CloudWatch second (`time_scale` of them per local second),
    for `retention` CloudWatch seconds, in time order."""

    def __init__(self, time_scale: float = 1.0, retention: int = 3600) -> None:
        self.time_scale = time_scale
        self._series: dict[MetricKey, dict[int, Datapoint]] = {}
        self._seconds: dict[MetricKey, list[int]] = {}  # each series' seconds, sorted
        self._unpublished: set[tuple[MetricKey, int]] = set()
        self._retention = retention
        self._lock = threading.Lock()

    def second(self, at: float) -> int:
        """The CloudWatch second a local time falls in."""
        return math.floor(at * self.time_scale)

    def put(
        self, namespace: str, name: str, dimensions: Mapping[str, str], value: float, at: float | None = None
    ) -> None:
        key = metric_key(namespace, name, dimensions)
        second = self.second(time.time() if at is None else at)
        with self._lock:
            series = self._series.setdefault(key, {})
            if second not in series:
                series[second] = Datapoint()
                bisect.insort(self._seconds.setdefault(key, []), second)
            series[second].add(float(value))
            self._unpublished.add((key, second))

    def periods(self, key: MetricKey, start: int, period: int, count: int, statistic: str) -> list[float | None]:
        """The statistic for each of `count` periods from CloudWatch second `start` (None for a
        period with no datapoint)."""
        merged = [Datapoint() for _ in range(count)]
        with self._lock:  # only the lookup: the merging is done without holding up `put`
            seconds = self._seconds.get(key, [])
            series = self._series.get(key, {})
            low = bisect.bisect_left(seconds, start)
            high = bisect.bisect_left(seconds, start + period * count)
            points = [(second, series[second]) for second in seconds[low:high]]
        for second, point in points:
            merged[(second - start) // period].merge(point)
        return [point.statistic(statistic) if point.count else None for point in merged]

    def statistic(self, key: MetricKey, start: int, end: int, statistic: str) -> float | None:
        """The statistic over the datapoints of CloudWatch seconds [start, end), or None when
        there are none."""
        return self.periods(key, start, end - start, 1, statistic)[0]

    def take_unpublished(self, before: int) -> list[tuple[MetricKey, int, Datapoint]]:
        """The datapoints of every CloudWatch second before `before` not taken yet (the second
        still running is left for the next call); seconds past the retention are dropped."""
        with self._lock:
            ready = sorted((k, s) for k, s in self._unpublished if s < before)
            self._unpublished.difference_update(ready)
            taken = [(key, second, self._series[key][second]) for key, second in ready]
            oldest = before - self._retention
            for key, seconds in self._seconds.items():
                cut = bisect.bisect_left(seconds, oldest)
                for second in seconds[:cut]:
                    del self._series[key][second]
                del seconds[:cut]
        return taken


def emf_datapoints(entry: Mapping[str, Any]) -> list[tuple[str, str, dict[str, str], float]]:
    """The metrics in one embedded metric format log entry: (namespace, name, dimensions, value)
    for every dimension set of every directive (CloudWatch Logs, "Specification: Embedded
    metric format")."""
    points: list[tuple[str, str, dict[str, str], float]] = []
    for directive in entry.get("_aws", {}).get("CloudWatchMetrics", []):
        for dimension_set in directive.get("Dimensions", []) or [[]]:
            dimensions = {str(name): str(entry.get(name, "")) for name in dimension_set}
            for definition in directive.get("Metrics", []):
                values = entry.get(definition["Name"])
                for value in values if isinstance(values, list) else [values]:
                    # CloudWatch takes finite numbers only (not NaN, not Infinity, not booleans).
                    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                        points.append((directive["Namespace"], definition["Name"], dimensions, float(value)))
    return points


@dataclass(frozen=True)
class Alarm:
    """A metric alarm as the template defines it (one metric, a statistic, a threshold)."""

    name: str
    arn: str
    metric: MetricKey
    statistic: str
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float
    comparison: str
    treat_missing: str
    actions: Mapping[str, tuple[str, ...]]  # state -> the ARNs notified on entering it
    actions_enabled: bool = True
    description: str = ""
    query: Mapping[str, Any] | None = None  # the `Metrics` query it was given as, if any

    @property
    def window(self) -> int:
        """How far back it looks, in CloudWatch seconds."""
        return self.period * self.evaluation_periods

    @classmethod
    def from_properties(cls, name: str, arn: str, props: Mapping[str, Any]) -> Alarm:
        """From the template's `AWS::CloudWatch::Alarm` properties (intrinsics resolved): a
        metric given directly, or as the one `MetricStat` query of `Metrics`. Anything else
        (metric math, trimmed means, anomaly detection) is refused by name, not evaluated wrongly."""
        if "Metrics" in props:
            queries = list(props["Metrics"])
            if len(queries) != 1 or "MetricStat" not in queries[0]:
                raise ValueError(f"alarm {name}: only one MetricStat query is evaluated locally, not metric math")
            stat = queries[0]["MetricStat"]
            metric = stat["Metric"]
            namespace, metric_name, dimensions = metric["Namespace"], metric["MetricName"], metric.get("Dimensions", [])
            statistic, period = str(stat["Stat"]), int(stat["Period"])
            query: Mapping[str, Any] | None = queries[0]
        else:
            query = None
            namespace, metric_name = props["Namespace"], props["MetricName"]
            dimensions = props.get("Dimensions", [])
            statistic, period = str(props.get("Statistic", "")), int(props["Period"])
        if not known_statistic(statistic):
            raise ValueError(
                f"alarm {name}: statistic {statistic!r} is not evaluated locally ({', '.join(STATISTICS)}, pNN)"
            )
        if props["ComparisonOperator"] not in COMPARISONS:
            raise ValueError(f"alarm {name}: comparison {props['ComparisonOperator']} is not evaluated locally")
        evaluation_periods = int(props["EvaluationPeriods"])
        return cls(
            name=name,
            arn=arn,
            metric=metric_key(namespace, metric_name, {d["Name"]: d["Value"] for d in dimensions}),
            statistic=statistic,
            period=period,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=int(props.get("DatapointsToAlarm", evaluation_periods)),
            threshold=float(props["Threshold"]),
            comparison=str(props["ComparisonOperator"]),
            treat_missing=str(props.get("TreatMissingData", "missing")),
            actions={
                ALARM: tuple(props.get("AlarmActions", [])),
                OK: tuple(props.get("OKActions", [])),
                INSUFFICIENT_DATA: tuple(props.get("InsufficientDataActions", [])),
            },
            actions_enabled=bool(props.get("ActionsEnabled", True)),
            description=str(props.get("AlarmDescription", "")),
            query=query,
        )

    def breaches(self, value: float) -> bool:
        return COMPARISONS[self.comparison][0](value, self.threshold)


_LABEL_STATISTICS: dict[str, Callable[[list[float]], float]] = {
    "AVG": lambda v: sum(v) / len(v),
    "MAX": max,
    "MIN": min,
    "SUM": sum,
    "LAST": lambda v: v[-1],
}


def _label(label: str, values: list[float | None]) -> str:
    """A label with its dynamic values (`${AVG}`, `${MAX}`, `${MIN}`, `${SUM}`, `${LAST}`) over
    the shown range, as CloudWatch's graphs fill them in."""
    present = [value for value in values if value is not None]

    def value(match: re.Match[str]) -> str:
        return f"{_LABEL_STATISTICS[match.group(1)](present):.4g}" if present else "-"

    return re.sub(r"\$\{(AVG|MAX|MIN|SUM|LAST)\}", value, label)


def evaluate(alarm: Alarm, values: list[float | None], current: str) -> tuple[str, str]:
    """The alarm's state from one value per period, oldest first (None: no data in the period),
    with CloudWatch's reason for it."""
    present = [value for value in values if value is not None]
    missing = len(values) - len(present)
    breaching = sum(1 for value in present if alarm.breaches(value))
    if alarm.treat_missing == "breaching":
        breaching += missing
    if not present and alarm.treat_missing in ("missing", "ignore"):
        if alarm.treat_missing == "ignore":
            return current, "no datapoints: the state is kept (TreatMissingData ignore)"
        return INSUFFICIENT_DATA, f"Insufficient Data: {len(values)} datapoints were unknown."
    state = ALARM if breaching >= alarm.datapoints_to_alarm else OK
    shown = ", ".join("missing" if value is None else f"{value:g}" for value in reversed(values))
    verb = "was" if breaching == 1 else "were"
    if state == ALARM:
        how = COMPARISONS[alarm.comparison][1]
        return state, (
            f"Threshold Crossed: {breaching} out of the last {len(values)} datapoints [{shown}] {verb} {how} "
            f"the threshold ({alarm.threshold:g}) (minimum {alarm.datapoints_to_alarm} datapoint(s) for "
            f"{current} -> ALARM transition)."
        )
    return state, (
        f"Threshold Crossed: {breaching} out of the last {len(values)} datapoints [{shown}] {verb} breaching "
        f"the threshold ({alarm.threshold:g}), fewer than the {alarm.datapoints_to_alarm} to alarm."
    )


@dataclass
class AlarmState:
    value: str = INSUFFICIENT_DATA
    reason: str = "Unchecked: Initial alarm creation"
    changes: list[tuple[float, str, str]] = field(default_factory=list)  # (when, old, new)


Publisher = Callable[[str, str, str], None]  # (topic ARN, subject, message): raises when refused


class CloudWatch:
    """Metrics in, alarms evaluated, notifications out, on a thread of its own.

    `client` is a CloudWatch client on the local endpoint with the operator's credentials (moto's
    CloudWatch keeps a copy of the metrics and the alarms' states); `publish(alarm, topic, subject, message)`
    publishes as CloudWatch acting for the alarm (raising on a refusal); `gauges()` and
    `executions()` read SQS's and Step Functions' state and `prune(before)` drops moto's copies of
    older datapoints (`localcloud.moto_fixes`)."""

    def __init__(
        self,
        alarms: Iterable[Alarm],
        *,
        client: Any,
        publish: Callable[[Alarm, str, str, str], None],
        gauges: Callable[[], Mapping[str, tuple[int, float]]],
        executions: Callable[[], list[tuple[str, str, str]]],
        report: Callable[[str, dict[str, Any]], None],
        prune: Callable[[float], None],
        region: str,
        account: str,
        time_scale: float = 60.0,
        dashboards: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.alarms = {alarm.name: alarm for alarm in alarms}
        # Kept for the dashboards' graphs (a local hour) or as long as the longest alarm looks
        # back and ten CloudWatch minutes more, whichever is longer.
        longest = max((alarm.window for alarm in self.alarms.values()), default=0)
        self.metrics = Metrics(time_scale, retention=max(longest + 600, math.ceil(GRAPHED_SECONDS * time_scale)))
        self.dashboards = dict(dashboards or {})
        self.states = {name: AlarmState() for name in self.alarms}
        self.notifications: deque[dict[str, Any]] = deque(maxlen=1000)  # the latest sent or refused
        self._client = client
        self._publish = publish
        self._gauges = gauges
        self._executions = executions
        self._report = report
        self._prune = prune  # drops moto's copies of datapoints older than a time
        self._region, self._account = region, account
        self.time_scale = time_scale
        self._seen_executions: dict[str, str] = {}  # execution ARN -> the status counted last
        self._mirror_kept = 3600.0  # local seconds of metrics moto's copy keeps
        self._last_sample: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cloudwatch", daemon=True)

    @property
    def minute(self) -> float:
        """A CloudWatch minute, locally."""
        return 60.0 / self.time_scale

    # --- metrics in --------------------------------------------------------------------------

    def invoked(self, function: str, *, failed: bool, duration_ms: float) -> None:
        dimensions = {"FunctionName": function}
        self.metrics.put("AWS/Lambda", "Invocations", dimensions, 1)
        self.metrics.put("AWS/Lambda", "Errors", dimensions, 1 if failed else 0)
        self.metrics.put("AWS/Lambda", "Duration", dimensions, duration_ms)

    def throttled(self, function: str) -> None:
        self.metrics.put("AWS/Lambda", "Throttles", {"FunctionName": function}, 1)

    def stream_batch(self, function: str, iterator_age_ms: float) -> None:
        self.metrics.put("AWS/Lambda", "IteratorAge", {"FunctionName": function}, iterator_age_ms)

    def api_request(self, api_name: str, stage: str, status: int, latency_ms: float) -> None:
        dimensions = {"ApiName": api_name, "Stage": stage}
        self.metrics.put("AWS/ApiGateway", "Count", dimensions, 1)
        self.metrics.put("AWS/ApiGateway", "4XXError", dimensions, 1 if 400 <= status < 500 else 0)
        self.metrics.put("AWS/ApiGateway", "5XXError", dimensions, 1 if status >= 500 else 0)
        self.metrics.put("AWS/ApiGateway", "Latency", dimensions, latency_ms)

    def log(self, entry: Mapping[str, Any]) -> None:
        """A function's structured log entry: its embedded metrics, if any."""
        for namespace, name, dimensions, value in emf_datapoints(entry):
            self.metrics.put(namespace, name, dimensions, value)

    def _sample(self, now: float) -> None:
        """What SQS and Step Functions publish on their own. SQS publishes its queues' state
        every minute: a sample taken late (the machine was busy) stands for each minute missed
        since the last one too, up to ten, rather than leave periods without data."""
        minutes = [now]
        if self._last_sample is not None:
            missed = min(math.ceil((now - self._last_sample) / self.minute) - 1, 10)  # minutes crossed
            minutes = [now - n * self.minute for n in range(max(missed, 0), 0, -1)] + minutes
        self._last_sample = now
        for queue, (visible, oldest_age) in self._gauges().items():
            dimensions = {"QueueName": queue}
            for at in minutes:
                self.metrics.put("AWS/SQS", "ApproximateNumberOfMessagesVisible", dimensions, visible, at=at)
                self.metrics.put("AWS/SQS", "ApproximateAgeOfOldestMessage", dimensions, oldest_age, at=at)
        for machine, execution, status in self._executions():
            counted = self._seen_executions.get(execution)
            if counted == status:
                continue
            dimensions = {"StateMachineArn": machine}
            if counted is None:
                self.metrics.put("AWS/States", "ExecutionsStarted", dimensions, 1, at=now)
            if status in EXECUTION_METRICS:
                self.metrics.put("AWS/States", EXECUTION_METRICS[status], dimensions, 1, at=now)
            self._seen_executions[execution] = status

    def _mirror(self, now: float) -> None:
        """Copy the finished seconds into moto's CloudWatch, one datapoint per metric and local
        second, for `get-metric-data`; moto's copy keeps the last hour."""
        local: dict[tuple[MetricKey, int], Datapoint] = {}
        for key, second, point in self.metrics.take_unpublished(self.metrics.second(now)):
            local.setdefault((key, math.floor(second / self.time_scale)), Datapoint()).merge(point)
        by_namespace: dict[str, list[dict[str, Any]]] = {}
        for ((namespace, name, dimensions), second), point in sorted(local.items()):
            by_namespace.setdefault(namespace, []).append(
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions],
                    "Timestamp": datetime.fromtimestamp(second, UTC),
                    "StatisticValues": {
                        "SampleCount": point.count,
                        "Sum": point.total,
                        "Minimum": point.low,
                        "Maximum": point.high,
                    },
                }
            )
        for namespace, data in by_namespace.items():
            for start in range(0, len(data), PUT_LIMIT):
                self._client.put_metric_data(Namespace=namespace, MetricData=data[start : start + PUT_LIMIT])
        self._prune(now - self._mirror_kept)

    # --- alarms ------------------------------------------------------------------------------

    def values(self, alarm: Alarm, now: float) -> list[float | None]:
        """The alarm's statistic for each of its evaluation periods, oldest first, the latest
        ending with the last finished CloudWatch second (what arrives later in the second still
        running is in the latest period of the next evaluation, a CloudWatch minute later)."""
        end = self.metrics.second(now)
        return [
            self.metrics.statistic(alarm.metric, end - (n + 1) * alarm.period, end - n * alarm.period, alarm.statistic)
            for n in reversed(range(alarm.evaluation_periods))
        ]

    def evaluate_all(self, now: float) -> None:
        for name, alarm in self.alarms.items():
            try:
                state = self.states[name]
                new, reason = evaluate(alarm, self.values(alarm, now), state.value)
                if new != state.value:
                    self._change(alarm, state, new, reason, now)
            except Exception as error:
                self._report("poller_error", {"source": f"cloudwatch alarm {name}", "error": repr(error)})

    def _change(self, alarm: Alarm, state: AlarmState, new: str, reason: str, now: float) -> None:
        """The new state, in moto first (so a failed update is tried again at the next
        evaluation), then here, then its actions."""
        old = state.value
        self._client.set_alarm_state(
            AlarmName=alarm.name, StateValue=new, StateReason=reason[:1023], StateReasonData="{}"
        )
        state.value, state.reason = new, reason
        state.changes.append((now, old, new))
        self._report("alarm_state", {"alarm": alarm.name, "old": old, "new": new, "reason": reason})
        if not alarm.actions_enabled:
            return
        for action in alarm.actions.get(new, ()):
            self._notify(alarm, action, (old, new), reason, now)

    def _notify(self, alarm: Alarm, topic_arn: str, change: tuple[str, str], reason: str, now: float) -> None:
        """CloudWatch's notification of a state change (old, new), to one SNS topic action."""
        old, new = change
        if not topic_arn.startswith("arn:aws:sns:"):
            self._report("alarm_action_skipped", {"alarm": alarm.name, "action": topic_arn})
            return
        message = {
            "AlarmName": alarm.name,
            "AlarmDescription": alarm.description or None,
            "AWSAccountId": self._account,
            "NewStateValue": new,
            "NewStateReason": reason,
            "StateChangeTime": datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds"),
            "Region": self._region,
            "AlarmArn": alarm.arn,
            "OldStateValue": old,
            "Trigger": {
                **self._trigger_metric(alarm),
                "Period": alarm.period,
                "EvaluationPeriods": alarm.evaluation_periods,
                "DatapointsToAlarm": alarm.datapoints_to_alarm,
                "ComparisonOperator": alarm.comparison,
                "Threshold": alarm.threshold,
                "TreatMissingData": alarm.treat_missing,
                "EvaluateLowSampleCountPercentile": "",
            },
        }
        subject = f'{new}: "{alarm.name}" in {self._region}'[:100]
        record: dict[str, Any] = {"alarm": alarm.name, "topic": topic_arn, "state": new, "message": message}
        try:
            self._publish(alarm, topic_arn, subject, json.dumps(message))
            record["delivered"] = True
        except Exception as refused:
            record["delivered"] = False
            record["error"] = str(refused)
            self._report("alarm_action_failed", {"alarm": alarm.name, "topic": topic_arn, "error": str(refused)})
        self.notifications.append(record)

    @staticmethod
    def _trigger_metric(alarm: Alarm) -> dict[str, Any]:
        """The metric part of the notification's `Trigger`, in the form the alarm was defined:
        `Metrics` for a metric query, else the metric's name, namespace and statistic."""
        namespace, metric_name, dimensions = alarm.metric
        shown = [{"value": value, "name": name} for name, value in dimensions]
        if alarm.query is not None:
            stat = alarm.query["MetricStat"]
            metric = {"Dimensions": shown, "MetricName": metric_name, "Namespace": namespace}
            query = {"Id": alarm.query.get("Id", "m1"), "Label": alarm.query.get("Label"), "ReturnData": True}
            return {
                "Metrics": [{**query, "MetricStat": {"Metric": metric, "Period": stat["Period"], "Stat": stat["Stat"]}}]
            }
        statistic = "SAMPLE_COUNT" if alarm.statistic == "SampleCount" else alarm.statistic.upper()
        return {
            "MetricName": metric_name,
            "Namespace": namespace,
            "StatisticType": "Statistic",
            "Statistic": statistic,
            "Dimensions": shown,
        }

    # --- dashboards -------------------------------------------------------------------------

    def dashboard(self, name: str, start: float, end: float) -> list[dict[str, Any]]:
        """Every widget of the dashboard as the template defines it (type, place on CloudWatch's
        24-column grid, title), with, for a metric widget, the value of each of its metrics and
        expressions per period (its statistic, its period) between the local times `start` and
        `end`, and the local time each period starts."""
        return [self._widget(widget, start, end) for widget in self.dashboards[name].get("widgets", [])]

    def _widget(self, widget: Mapping[str, Any], start: float, end: float) -> dict[str, Any]:
        properties = widget.get("properties", {})
        shown: dict[str, Any] = {
            "type": widget.get("type"),
            **{place: widget.get(place) for place in ("x", "y", "width", "height")},
            "title": properties.get("title", ""),
        }
        if widget.get("type") == "text":
            return {**shown, "markdown": properties.get("markdown", "")}
        if widget.get("type") != "metric":
            return {**shown, "error": f"a {widget.get('type')} widget is not drawn locally"}
        try:
            period = int(properties.get("period", DEFAULT_PERIOD))
            if period <= 0:
                raise ValueError(period)
        except (TypeError, ValueError):
            return {**shown, "error": f"period {properties.get('period')!r} is not drawn locally"}
        first = self.metrics.second(start) // period * period
        count = max(1, math.ceil((self.metrics.second(end) - first) / period))
        rows: list[tuple[str, Any, dict[str, Any]]] = []
        for index, row in enumerate(properties.get("metrics", [])):
            options = row[-1] if row and isinstance(row[-1], dict) else {}
            rows.append((options.get("id") or f"m{index}", row, options))
        values, errors = self._queries(rows, properties, first, period, count)
        series = [
            {"id": query, "label": _label(options.get("label") or query, values[query]), "values": values[query]}
            for query, _, options in rows
            if query in values and options.get("visible", True)
        ]
        return {
            **shown,
            "view": properties.get("view", "timeSeries"),
            "period": period,
            "times": [(first + n * period) / self.time_scale for n in range(count)],
            "series": series,
            "annotations": properties.get("annotations", {}),
            "y_axis": properties.get("yAxis", {}),
            "errors": errors,
        }

    def _queries(
        self,
        rows: list[tuple[str, Any, dict[str, Any]]],
        properties: Mapping[str, Any],
        first: int,
        period: int,
        count: int,
    ) -> tuple[dict[str, list[float | None]], list[str]]:
        """Each query's value per period: the metrics first, then the expressions (which may
        name each other, in any order); and why a query could not be computed."""
        values: dict[str, list[float | None]] = {}
        errors: list[str] = []
        for query, row, options in rows:
            if "expression" in options:
                continue
            try:
                namespace, metric_name, *pairs = [part for part in row if not isinstance(part, dict)]
                key = metric_key(namespace, metric_name, dict(zip(pairs[::2], pairs[1::2], strict=True)))
                statistic = options.get("stat") or properties.get("stat") or "Average"
                if not known_statistic(statistic):
                    raise ValueError(f"statistic {statistic!r} is not computed locally")
                if int(options.get("period", period)) != period:
                    raise ValueError("a metric's own period is not drawn locally (the widget's is)")
                values[query] = self.metrics.periods(key, first, period, count, statistic)
            except (ValueError, KeyError) as unsupported:
                errors.append(f"{options.get('label') or query}: {unsupported!r}")
        pending = [(query, options) for query, _, options in rows if "expression" in options]
        while pending:
            failed: list[tuple[str, dict[str, Any], metric_math.MathError]] = []
            for query, options in pending:
                try:
                    values[query] = metric_math.evaluate(options["expression"], values, period)
                except metric_math.MathError as unknown:
                    failed.append((query, options, unknown))
            if len(failed) == len(pending):  # no progress: each is refused with its reason
                errors += [f"{options.get('label') or query}: {unknown}" for query, options, unknown in failed]
                break
            pending = [(query, options) for query, options, _ in failed]
        return values, errors

    # --- the loop ----------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def tick(self, now: float | None = None) -> None:
        """One (local) minute of CloudWatch: samples, the copy for the API, every alarm."""
        now = time.time() if now is None else now
        for stage in (self._sample, self._mirror, self.evaluate_all):
            try:
                stage(now)
            except Exception as error:
                self._report("poller_error", {"source": f"cloudwatch {stage.__name__}", "error": repr(error)})

    def _run(self) -> None:
        """A tick every CloudWatch minute on a fixed schedule (a slow tick does not push the
        next ones later; ticks missed altogether are skipped)."""
        due = time.monotonic()
        while True:
            due += self.minute
            late = time.monotonic() - due
            if late > 0:
                due += math.ceil(late / self.minute) * self.minute
            if self._stop.wait(max(0.0, due - time.monotonic())):
                return
            try:
                self.tick()
            except Exception as error:
                self._report("poller_error", {"source": "cloudwatch", "error": repr(error)})
