"""How the publishers cut a stream batch into calls: at most 10 entries and 256 KiB each."""

from __future__ import annotations

from orderflow.adapters.publishers import MAX_BATCH_BYTES, batches


def test_entries_go_ten_to_a_call_in_order() -> None:
    entries = [({"Id": str(i)}, 100) for i in range(25)]

    calls = list(batches(entries))

    assert [(start, len(chunk)) for start, chunk in calls] == [(0, 10), (10, 10), (20, 5)]
    assert [entry["Id"] for _, chunk in calls for entry in chunk] == [str(i) for i in range(25)]


def test_a_call_never_exceeds_the_size_limit() -> None:
    large = MAX_BATCH_BYTES // 3
    entries = [({"Id": str(i)}, large) for i in range(5)]

    assert [(start, len(chunk)) for start, chunk in batches(entries)] == [(0, 3), (3, 2)]
    assert list(batches([])) == []
