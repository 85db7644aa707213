"""`make bench`: every figure measured in the same run, with its ratio to the floor (and to the
plain peer where there is one), printed and written to `benchmarks/RESULTS.md`.

    python -m benchmarks [--runs 15] [--skip-tests]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import cold_start

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).with_name("RESULTS.md")


def _cold_starts(runs: int) -> list[str]:
    floor = cold_start.floor(runs)
    lines = [
        f"Cold start (median of {runs} fresh processes; floor = a bare interpreter, {floor:.0f} ms):",
        "",
        "| function | init ms | process ms | x floor | peer process ms | x peer | heaviest imports (ms, own time) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in cold_start.functions():
        result = cold_start.measure(name, runs)
        heaviest = ", ".join(f"{module} {ms:.0f}" for module, ms in result.top_imports if module != "handler")
        lines.append(
            f"| {name} | {result.init_ms:.0f} | {result.process_ms:.0f} | {result.process_ms / floor:.1f} "
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


def _calls_per_order() -> list[str]:
    from benchmarks import calls
    from localcloud.cloud import LocalCloudConfig, running

    with running(LocalCloudConfig(moto_port=0, api_port=0)) as cloud:
        cloud.seed()
        measured = [calls.measure(cloud, path) for path in calls.PATHS]
    operations = sorted({operation for result in measured for operation in result.calls})
    header = " | ".join(result.path for result in measured)
    lines = [
        "AWS calls per order, one order at a time through the local cloud (made by our functions,",
        "counted in botocore; the simulated payment provider's ledger is DynamoDB here, an HTTPS",
        "call to the provider on a real deployment):",
        "",
        f"| call | {header} |",
        "|---|" + "---|" * len(measured),
    ]
    lines += [f"| {op} | " + " | ".join(str(r.calls.get(op, 0)) for r in measured) + " |" for op in operations]
    lines += [
        "| **calls by our functions** | " + " | ".join(f"**{r.total_calls}**" for r in measured) + " |",
        "| function invocations | " + " | ".join(str(sum(r.invocations.values())) for r in measured) + " |",
        "| saga state transitions | " + " | ".join(str(r.transitions) for r in measured) + " |",
        "| SQS requests of Lambda's pollers (receive + delete per batch) | "
        + " | ".join(str(r.poller_requests) for r in measured)
        + " |",
    ]
    return lines


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
        *_calls_per_order(),
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
