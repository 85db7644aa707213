"""`make bench`: every figure measured in the same run, with its ratio to the floor (and to the
plain peer where there is one), printed and written to `benchmarks/RESULTS.md`: cold starts,
package sizes, calls and request units per order against the floor, the cost per million
orders, local throughput, how far the design goes on AWS (`benchmarks/scale.py`), consumer CPU
per message, and the developer loop.

    python -m benchmarks [--runs 15] [--orders 60] [--skip-tests]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks import cold_start

if TYPE_CHECKING:
    from benchmarks import calls, throughput

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("RESULTS.md")


# Cold starts are measured two series at a time, one per core, the floor included: every
# figure and its floors under the same conditions, in half the time.
SERIES_AT_ONCE = 2


def _cold_starts(runs: int) -> list[str]:
    with ThreadPoolExecutor(SERIES_AT_ONCE) as pool:
        floor = statistics.median(pool.map(lambda _: cold_start.floor(runs), range(SERIES_AT_ONCE)))
        lines = [
            f"Cold start (median of {runs} fresh processes, {SERIES_AT_ONCE} measured at a time; floor = a bare "
            f"interpreter, {floor:.0f} ms):",
            "",
            "| function | init ms | process ms | x floor | peer process ms | x peer "
            "| heaviest imports (ms, own time) |",
            "|---|---|---|---|---|---|---|",
        ]
        for result in pool.map(lambda name: cold_start.measure(name, runs), cold_start.functions()):
            heaviest = ", ".join(f"{module} {ms:.0f}" for module, ms in result.top_imports if module != "handler")
            lines.append(
                f"| {result.name} | {result.init_ms:.0f} | {result.process_ms:.0f} | {result.process_ms / floor:.1f} "
                f"| {result.peer_process_ms:.0f} | {result.process_ms / result.peer_process_ms:.2f} | {heaviest} |"
            )
            print(lines[-1], flush=True)
    return lines


def _package_sizes() -> list[str]:
    lines = ["Deployment packages (bytes Lambda downloads; the layers are shared by every function):", ""]
    lines += ["| package | KiB |", "|---|---|"]
    lines += [f"| {name} | {size / 1024:.0f} |" for name, size in cold_start.package_sizes().items()]
    return lines


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def _local_ready() -> float:
    """Seconds from a cold `python -m localcloud` to its ready line (`make local`)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "localcloud", "--moto-port", "0", "--api-port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    try:
        for line in process.stdout:
            if "orderflow is running locally" in line:
                return time.perf_counter() - started
        raise RuntimeError("the local cloud did not start")
    finally:
        process.terminate()
        process.wait(timeout=30)


def _flow(throughput_orders: int) -> list[str]:
    """Calls, request units and cost per order on each path, one order at a time; then many in
    flight: throughput, and what an order uses at load. One local cloud, warmed first."""
    from benchmarks import calls, scale, throughput
    from localcloud.cloud import LocalCloudConfig, running

    with running(LocalCloudConfig(moto_port=0, api_port=0)) as cloud:
        cloud.seed()
        calls.measure(cloud, "shipped")  # warms every function: the figures are for warm ones
        measured = [calls.measure(cloud, path) for path in calls.PATHS]
        print("measured calls per order", flush=True)
        loaded = throughput.measure(cloud, measured[0], orders=throughput_orders)
        print(f"measured throughput: {loaded.orders_per_second:.2f} orders/s", flush=True)
        limits = scale.section(measured[0], cloud.deployment.template, cloud.table_name("Catalogue"))
    return [
        *_calls_table(measured),
        "",
        *_floor_table(measured),
        "",
        *_cost_table(measured, loaded),
        "",
        *_throughput_table(loaded),
        "",
        *limits,
    ]


def _calls_table(measured: list[calls.OrderCalls]) -> list[str]:
    operations = sorted({operation for result in measured for operation in result.calls})
    lines = [
        "AWS calls per order, one order at a time through the local cloud (made by our functions,",
        "counted in botocore; the simulated payment provider is a DynamoDB table here, an HTTPS",
        "call to the provider on a real deployment, and is counted apart):",
        "",
        "| per order | " + " | ".join(result.path for result in measured) + " |",
        "|---|" + "---|" * len(measured),
    ]
    lines += [f"| {op} | " + " | ".join(str(r.calls.get(op, 0)) for r in measured) + " |" for op in operations]

    def row(name: str, value: Callable[[calls.OrderCalls], str]) -> str:
        return f"| {name} | " + " | ".join(value(r) for r in measured) + " |"

    lines += [
        row("**AWS calls by our functions**", lambda r: f"**{r.total_calls}**"),
        row("DynamoDB write request units", lambda r: f"{r.request_units('WRU'):g}"),
        row("DynamoDB read request units", lambda r: f"{r.request_units('RRU'):g}"),
        row("function invocations", lambda r: str(sum(r.invocations.values()))),
        row("Lambda GB-seconds (local run times x memory)", lambda r: f"{r.gb_seconds:.2f}"),
        row("saga state transitions", lambda r: str(r.transitions)),
        row("SQS requests of Lambda's pollers (receive + delete per batch)", lambda r: str(r.poller_requests)),
        row("events put on the bus", lambda r: str(r.bus_events)),
        row("log written, KB", lambda r: f"{r.log_bytes / 1024:.1f}"),
    ]
    return lines


def _floor_table(measured: list[calls.OrderCalls]) -> list[str]:
    from benchmarks.floor import FLOORS

    lines = [
        "Calls against the floor (the fewest each function needs in this design), per path:",
        "",
        "| path | function | calls | floor | the floor | above the floor |",
        "|---|---|---|---|---|---|",
    ]
    for result in measured:
        floors = FLOORS[result.path]
        for floor in floors:
            lines.append(
                f"| {result.path} | {floor.function} | {result.function_calls(floor.function)} | {floor.calls} "
                f"| {floor.needed} | {floor.above or '-'} |"
            )
        total_floor = sum(floor.calls for floor in floors)
        lines.append(
            f"| {result.path} | **all** | **{result.total_calls}** | **{total_floor}** "
            f"| x{result.total_calls / total_floor:.2f} the floor | |"
        )
    return lines


def _cost_table(measured: list[calls.OrderCalls], loaded: throughput.Throughput) -> list[str]:
    from benchmarks import cost

    uses = [cost.usage(result) for result in measured] + [loaded.usage]
    priced = [cost.lines(use) for use in uses]
    names = [result.path for result in measured] + [f"shipped, {loaded.orders} in flight"]
    lines = [
        "Cost per million orders, USD (us-east-1 on-demand list prices from the pages cited below;",
        f"{cost.PRICES_CHECKED} free tiers left out; Lambda run times are the local cloud's,",
        f"on moto, and X-Ray assumes the default sampling of {cost.TRACED_SHARE:.0%} with every invocation",
        "its own trace, an upper bound):",
        "",
        "| service | unit | list price, USD | " + " | ".join(names) + " |",
        "|---|---|---|" + "---|" * len(names),
    ]
    for index, line in enumerate(priced[0]):
        cells = " | ".join(f"{p[index].per_million:.2f}" for p in priced)
        lines.append(f"| {line.price.service} | {line.price.unit} | {_price(line.price.usd)} | {cells} |")
    lines.append("| **total, Standard saga** | | | " + " | ".join(f"**{cost.total(p):.2f}**" for p in priced) + " |")
    express = [
        cost.total([line for line in p if line.price is not cost.TRANSITION]) + cost.total(cost.express_lines(use))
        for p, use in zip(priced, uses, strict=True)
    ]
    lines.append("| total, Express saga instead | | | " + " | ".join(f"{total:.2f}" for total in express) + " |")
    lines += ["", "Prices: " + ", ".join(sorted({f"{p.service} <{p.source}>" for p in cost.PRICES})) + "."]
    lines += ["Not priced: " + "; ".join(cost.NOT_PRICED) + "."]
    return lines


def _price(usd: float) -> str:
    return f"{usd * 1_000_000:g} per million" if usd < 0.0001 else f"{usd:g}"


def _throughput_table(loaded: throughput.Throughput) -> list[str]:
    from benchmarks import consumer

    measured = consumer.measure()
    return [
        f"Local throughput: {loaded.orders} orders placed together by 4 clients, each through the whole flow",
        f"until shipped, in {loaded.seconds:.1f} s: **{loaded.orders_per_second:.2f} orders/s** on this machine.",
        "",
        f"Consumer CPU per message (the history projector, {measured.messages} messages in batches of "
        f"{consumer.BATCH}; DynamoDB answering at once):",
        "",
        "| consumer | CPU us per message | x floor | x peer |",
        "|---|---|---|---|",
        f"| floor: a bare loop parsing each body | {measured.floor_us:.1f} | 1 | |",
        f"| plain peer: parse, one conditional PutItem | {measured.peer_us:.0f} "
        f"| {measured.peer_us / measured.floor_us:.0f} | 1 |",
        f"| history projector: validate, read the view, write entry and summary | {measured.ours_us:.0f} "
        f"| {measured.ours_us / measured.floor_us:.0f} | {measured.ours_us / measured.peer_us:.2f} |",
    ]


def _developer_loop(skip_tests: bool) -> list[str]:
    floor = statistics.median(_timed([sys.executable, "-c", "pass"]) for _ in range(5))
    rows = [("make synth", _timed(["make", "synth"])), ("make local (to ready)", _local_ready())]
    if not skip_tests:
        rows.append(("make test", _timed(["make", "test"])))
    lines = ["Developer loop (floor = starting the interpreter):", "", "| step | seconds | x floor |", "|---|---|---|"]
    lines += [f"| {step} | {seconds:.1f} | {seconds / floor:.0f} |" for step, seconds in rows]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--orders", type=int, default=40, help="orders in flight for the throughput run")
    parser.add_argument("--skip-tests", action="store_true", help="leave `make test` out of the developer loop")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    machine = f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores"
    sections = [
        f"Measured {datetime.now(UTC):%Y-%m-%d} on {machine}.",
        "",
        *_cold_starts(args.runs),
        "",
        *_package_sizes(),
        "",
        *_flow(args.orders),
        "",
        *_developer_loop(args.skip_tests),
        "",
        f"`make bench` took {time.perf_counter() - started:.0f} s.",
    ]
    text = "\n".join(sections) + "\n"
    RESULTS.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
