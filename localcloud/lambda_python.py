"""The Python a function runs on, as Lambda runs it: the version the template names
(`Runtime: python3.13`) with only what Lambda puts on its path: the function's code, its layers
(the dependencies layer holds the Linux wheels built for that version) and the runtime's own
boto3. Not the development virtualenv, so a package the layers forgot fails the function here
as it would on AWS.

Lambda's runtime ships boto3 and its dependencies precompiled, and its code folders are
read-only, so no bytecode is written for the function or its layers: locally the same (the
runtime's packages installed once, compiled; `PYTHONDONTWRITEBYTECODE` for the workers).

When that Python is not installed, functions run on the virtualenv's Python and packages
instead, and `make local` says so.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# What Lambda's Python runtimes provide besides the standard library: boto3 (at the version the
# project pins, so local and test code agree; Lambda updates its own from time to time).
RUNTIME_PACKAGES = ROOT / "localcloud" / "lambda-runtime-packages.txt"
PLATFORM = ("--platform", "manylinux2014_x86_64", "--implementation", "cp", "--only-binary=:all:")


@dataclass(frozen=True)
class Interpreter:
    """How an execution environment's process is started."""

    executable: str
    environment: dict[str, str] = field(default_factory=dict)
    runtime: str = ""  # the Lambda runtime it stands for; "" for the development virtualenv

    @property
    def describe(self) -> str:
        if self.runtime:
            return f"{self.runtime} ({self.executable}), with the layers' packages and the runtime's boto3"
        return f"the virtualenv's Python {sys.version_info.major}.{sys.version_info.minor} and packages"


VIRTUALENV = Interpreter(sys.executable)


@functools.cache
def installed(runtime: str) -> str | None:
    """The interpreter for a Lambda runtime name (`python3.13`) if this machine has it."""
    version = runtime.removeprefix("python")
    candidates = [shutil.which(runtime), *sorted(Path.home().glob(f".pyenv/versions/{version}*/bin/{runtime}"))]
    for candidate in candidates:
        if candidate and _runs(str(candidate), version):
            return str(candidate)
    return None


def _runs(executable: str, version: str) -> bool:
    """A pyenv shim may exist and still refuse (no pyenv version selects it)."""
    probe = [executable, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]
    try:
        answer = subprocess.run(probe, capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return False
    return answer.returncode == 0 and answer.stdout.strip() == version


@functools.cache
def for_runtime(runtime: str, packages_dir: Path) -> Interpreter:
    """The interpreter to run a function of this runtime with, its packages ready (worked out
    once: every cold start asks)."""
    executable = installed(runtime)
    if executable is None:
        return VIRTUALENV
    site = ensure_runtime_packages(runtime, packages_dir)
    return Interpreter(
        executable,
        {"PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1"},
        runtime=runtime,
    )


def ensure_runtime_packages(runtime: str, packages_dir: Path) -> Path:
    """The runtime's own packages (boto3 and what it needs) for this Python version, installed
    once per requirements file (from the package registry the first time)."""
    wanted = RUNTIME_PACKAGES.read_bytes()
    stamp = hashlib.sha256(wanted + runtime.encode()).hexdigest()[:16]
    target = packages_dir / f"{runtime}-{stamp}"
    packages_dir.mkdir(parents=True, exist_ok=True)
    with (packages_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two local clouds starting together install once
        if not (target / ".complete").exists():
            _install(runtime, target)
    return target


def _install(runtime: str, target: Path) -> None:
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    version = runtime.removeprefix("python")
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--target", str(partial)]
    command += ["--python-version", version, *PLATFORM, "-r", str(RUNTIME_PACKAGES)]
    subprocess.run(command, check=True)
    executable = installed(runtime)
    if executable:  # precompiled, as in Lambda's runtime (the version's own bytecode)
        subprocess.run([executable, "-m", "compileall", "-q", str(partial)], check=True)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    (target / ".complete").touch()
