"""The soak's summary table."""

from __future__ import annotations

from collections import Counter

from localcloud.soak.checker import Finding
from localcloud.soak.report import Report


def _report(**changes: object) -> Report:
    values: dict[str, object] = {
        "seed": 7,
        "orders": 3,
        "statuses": Counter({"CONFIRMED": 2, "CANCELLED (PAYMENT_DECLINED)": 1}),
        "faults": Counter({"error": 4, "kill_after_write": 1}),
        "faulted_share": 0.25,
        "invocations": 40,
        "retries": Counter({"queue messages": 3}),
        "payments": Counter({"PaymentsPaid": 2}),
        "peak_depth": Counter({"OrderHistoryQueue.fifo": 5, "Idle.fifo": 0}),
        "dead_lettered": {"NotificationsDLQ.fifo": 1},
        "redriven": 1,
        "violations": [],
        "seconds": {"placing": 10.0, "wall": 30.0},
        "good_shipped": (2, 2),
        "peak_environments": Counter({"OrderHistoryConsumer": 3}),
    }
    values.update(changes)
    return Report(**values)  # type: ignore[arg-type]


def test_the_table_has_one_row_per_figure_and_faults_by_kind() -> None:
    table = _report().table()

    assert "| seed " in table
    assert "| tok_ok orders with stock shipped " in table
    assert "| 2 of 2 (100.00%) |" in table
    assert "| faults injected: kill_after_write " in table
    assert "| invocations faulted (latency not counted) " in table
    assert "| 25.0% |" in table
    assert "| environments at once: OrderHistoryConsumer " in table
    assert "Idle.fifo" not in table  # a queue that never held anything is left out
    assert table.rstrip().endswith("| 0 |")


def test_details_list_each_order_needing_attention_with_its_cause_then_each_violation() -> None:
    report = _report(attention=[Finding("o-1", "ServiceUnavailable (injected fault)")], violations=["o-2: broken"])

    assert report.details() == ["NEEDS_ATTENTION o-1: ServiceUnavailable (injected fault)", "VIOLATION o-2: broken"]
    assert _report(good_shipped=(0, 0)).good_shipped_share == 1.0
