"""The soak's summary: one table (what docs/operating.md publishes) and the lines behind it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from localcloud.soak.checker import Finding


@dataclass
class Report:
    seed: int
    orders: int
    statuses: Counter[str]
    faults: Counter[str]  # injected, by kind
    faulted_share: float  # of function invocations, latency alone not counted
    invocations: int
    retries: Counter[str]
    payments: Counter[str]
    peak_depth: Counter[str]
    dead_lettered: dict[str, int]
    redriven: int
    violations: list[str]
    attention: list[Finding] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    good_shipped: tuple[int, int] = (0, 0)  # tok_ok orders that had stock: shipped, all
    peak_environments: Counter[str] = field(default_factory=Counter)  # most at once, per function
    # Every alarm state change: (seconds since the orders started, alarm, old state, new state).
    alarm_transitions: list[tuple[float, str, str, str]] = field(default_factory=list)

    @property
    def good_shipped_share(self) -> float:
        shipped, total = self.good_shipped
        return shipped / total if total else 1.0

    def table(self) -> str:
        shipped, total = self.good_shipped
        rows = [
            ("seed", str(self.seed)),
            ("orders", str(self.orders)),
            ("final status", ", ".join(f"{status} {n}" for status, n in sorted(self.statuses.items()))),
            ("tok_ok orders with stock shipped", f"{shipped} of {total} ({self.good_shipped_share:.2%})"),
            ("function invocations", str(self.invocations)),
            ("invocations faulted (latency not counted)", f"{self.faulted_share:.1%}"),
            *((f"faults injected: {kind}", str(n)) for kind, n in sorted(self.faults.items())),
            *((f"retried: {kind}", str(n)) for kind, n in sorted(self.retries.items())),
            (
                "dead-lettered",
                ", ".join(f"{queue} {n}" for queue, n in sorted(self.dead_lettered.items())) or "0",
            ),
            ("redriven", str(self.redriven)),
            *((f"payments: {outcome}", str(n)) for outcome, n in sorted(self.payments.items())),
            *((f"deepest backlog: {queue}", str(n)) for queue, n in sorted(self.peak_depth.items()) if n),
            *((f"environments at once: {name}", str(n)) for name, n in sorted(self.peak_environments.items())),
            ("alarm state changes", str(len(self.alarm_transitions))),
            (
                "alarms that went to ALARM",
                ", ".join(f"{name} {n}x" for name, n in sorted(self.alarmed.items())) or "none",
            ),
            ("needing attention (injected cause)", str(len(self.attention))),
            *((f"time: {phase}", f"{s:.0f} s") for phase, s in self.seconds.items()),
            ("violations", str(len(self.violations))),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"| {'soak':<{width}} | result |", f"|{'-' * (width + 2)}|---|"]
        lines += [f"| {name:<{width}} | {value} |" for name, value in rows]
        return "\n".join(lines)

    @property
    def alarmed(self) -> Counter[str]:
        """How often each alarm went to ALARM."""
        return Counter(name for _, name, _, new in self.alarm_transitions if new == "ALARM")

    def details(self, limit: int = 50) -> list[str]:
        lines = [f"ALARM {at:7.1f} s  {name}: {old} -> {new}" for at, name, old, new in self.alarm_transitions]
        lines += [f"NEEDS_ATTENTION {finding.order_id}: {finding.cause}" for finding in self.attention[:limit]]
        lines += [f"VIOLATION {violation}" for violation in self.violations[:limit]]
        return lines
