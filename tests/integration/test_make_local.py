"""`make local` (`python -m localcloud`) stops on Ctrl-C as a command should: it lists what it
saw and exits, with no traceback from itself or any of its function workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READY = "Ctrl-C stops it"


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
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if READY in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(timeout=300), "".join(output)  # a first synthesis may take minutes
        os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends: the whole group, workers too
        process.wait(timeout=60)
        reader.join(timeout=10)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    printed = "".join(output)

    assert process.returncode == 0, printed
    assert "Traceback" not in printed
    assert "permissions: nothing was denied" in printed
    assert "throttled invocations: none" in printed
