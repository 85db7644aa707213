"""Cold start: a fresh process importing a function's handler (its imports and module-level
init, as Lambda's init phase does), against the floor (a bare interpreter) and a plain peer
(the same job written with boto3 and `json` only, in `benchmarks/peers/`).

Each process is started the way Lambda starts one: the function's code folder first on the
path, then the layers' `python/` folders; the third-party packages come from this virtualenv
(the dependencies layer on AWS). The environment holds the function's settings (placeholder
names: nothing is called during init).
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
PEERS = Path(__file__).with_name("peers")
SHARED_LAYER = ROOT / "layers" / "shared" / "python"

ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "eu-west-1",
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_LAMBDA_FUNCTION_NAME": "bench",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "POWERTOOLS_SERVICE_NAME": "orderflow",
    "POWERTOOLS_TRACE_DISABLED": "1",  # no X-Ray daemon here; on Lambda the tracer is on
    "ORDERS_TABLE": "orders",
    "OUTBOX_TABLE": "outbox",
    "CATALOGUE_TABLE": "catalogue",
    "ORDER_VIEWS_TABLE": "order-views",
    "NOTIFICATIONS_TABLE": "notifications",
    "IDEMPOTENCY_TABLE": "idempotency",
    "ORDER_EVENTS_TOPIC_ARN": "arn:aws:sns:eu-west-1:123456789012:order-events.fifo",
    "EVENT_BUS_NAME": "orderflow",
    "RESERVATIONS_TABLE": "reservations",
    "PAYMENTS_TABLE": "payments",
    "LEDGER_TABLE": "ledger",
    "SHIPMENTS_TABLE": "shipments",
    "STATE_MACHINE_ARN": "arn:aws:states:eu-west-1:123456789012:stateMachine:fulfilment",
    "DEAD_LETTER_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq.fifo",
}
# Measures the init inside the process; the process's own wall time is measured outside.
PROBE = (
    "import sys, time; sys.path[:0] = sys.argv[1:]; started = time.perf_counter(); import handler; "
    "print((time.perf_counter() - started) * 1000)"
)


@dataclass(frozen=True)
class ColdStart:
    name: str
    init_ms: float  # import + module-level init, median
    process_ms: float  # the whole fresh process, median
    peer_init_ms: float
    peer_process_ms: float
    top_imports: list[tuple[str, float]]  # (module, cumulative ms)


def _run(args: list[str], path: list[Path]) -> tuple[float, float]:
    import time

    environment = {**ENVIRONMENT, "PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "0"}
    started = time.perf_counter()
    answer = subprocess.run(
        [sys.executable, "-S", *args, *map(str, path)],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
        cwd=path[0],
    )
    process_ms = (time.perf_counter() - started) * 1000
    return float(answer.stdout.strip().splitlines()[-1]) if answer.stdout.strip() else 0.0, process_ms


def _site_packages() -> list[Path]:
    import site

    return [Path(p) for p in site.getsitepackages()]


def floor(runs: int) -> float:
    """A bare interpreter starting and exiting (with the same `-S` and path setup)."""
    return statistics.median(
        _run(["-c", "import sys; sys.path[:0] = sys.argv[1:]; print(0)"], [ROOT, *_site_packages()])[1]
        for _ in range(runs)
    )


def measure(name: str, runs: int) -> ColdStart:
    code = FUNCTIONS / name
    path = [code, SHARED_LAYER, *_site_packages()]
    ours = [_run(["-c", PROBE], path) for _ in range(runs)]
    peer_path = [PEERS / name, *_site_packages()]
    peers = [_run(["-c", PROBE], peer_path) for _ in range(runs)]
    return ColdStart(
        name=name,
        init_ms=statistics.median(init for init, _ in ours),
        process_ms=statistics.median(process for _, process in ours),
        peer_init_ms=statistics.median(init for init, _ in peers),
        peer_process_ms=statistics.median(process for _, process in peers),
        top_imports=top_imports(path),
    )


def top_imports(path: list[Path], count: int = 4) -> list[tuple[str, float]]:
    """Where the import time goes: each top-level package's own import time (the sum of the
    `self` column of `python -X importtime` over its modules), heaviest first."""
    answer = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", "-c", PROBE, *map(str, path)],
        capture_output=True,
        text=True,
        env={**ENVIRONMENT, "PATH": os.environ.get("PATH", "")},
        check=True,
        cwd=path[0],
    )
    totals: dict[str, float] = {}
    for line in answer.stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if found:
            package = found.group(2).split(".")[0]
            totals[package] = totals.get(package, 0.0) + int(found.group(1)) / 1000
    return sorted(totals.items(), key=lambda item: -item[1])[:count]


def functions() -> list[str]:
    return sorted(p.name for p in FUNCTIONS.iterdir() if (p / "handler.py").exists())


def package_sizes() -> dict[str, int]:
    """Bytes of each function's own code and of each layer (what Lambda downloads)."""

    def size(folder: Path) -> int:
        return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and "__pycache__" not in f.parts)

    sizes = {f"function {name}": size(FUNCTIONS / name) for name in functions()}
    sizes["layer shared (orderflow)"] = size(SHARED_LAYER)
    wheels = ROOT / ".local" / "cdk.out"
    layers = [p for p in wheels.glob("asset.*") if (p / "python" / "aws_lambda_powertools").exists()]
    if layers:
        sizes["layer dependencies"] = size(layers[0])
    return sizes
