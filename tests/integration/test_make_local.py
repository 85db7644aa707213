"""`make local` (`python -m localcloud`) stops on Ctrl-C as a command should: it lists what it
saw and exits, with no traceback from itself or any of its function workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_ctrl_c_stops_the_local_cloud_cleanly() -> None:
    environment = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'layers/shared/python'}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "localcloud", "--moto-port", "0", "--api-port", "0"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    assert process.stdout is not None
    output: list[str] = []
    deadline = time.monotonic() + 180
    for line in process.stdout:
        output.append(line)
        if "Ctrl-C stops it" in line or time.monotonic() > deadline:
            break
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends: the whole group, workers too
    rest, _ = process.communicate(timeout=60)
    printed = "".join(output) + rest

    assert "Ctrl-C stops it" in printed, printed
    assert process.returncode == 0, printed
    assert "Traceback" not in printed
    assert "permissions: nothing was denied" in printed
    assert "throttled invocations: none" in printed
