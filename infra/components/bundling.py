"""Docker-free bundling of the third-party dependencies layer.

`pip install --platform` fetches Linux wheels for the Lambda runtime whatever the build machine.
Wheels come from a local wheelhouse (`make wheels`), so synth works offline once it exists;
boto3 and botocore are left out because the Lambda runtime provides them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import ILocalBundling

LAMBDA_PLATFORM = "manylinux2014_x86_64"
LAMBDA_PYTHON = "3.13"
PROVIDED_BY_RUNTIME = ("boto3", "botocore", "s3transfer")


def pip_platform_args() -> list[str]:
    return [
        "--platform",
        LAMBDA_PLATFORM,
        "--python-version",
        LAMBDA_PYTHON,
        "--implementation",
        "cp",
        "--only-binary=:all:",
    ]


def download_wheels(requirements: Path, wheelhouse: Path) -> None:
    """Fill the wheelhouse with Lambda-platform wheels for `requirements` (needs the registry)."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "-r",
            str(requirements),
            "-d",
            str(wheelhouse),
            *pip_platform_args(),
        ],
        check=True,
    )


@jsii.implements(ILocalBundling)
class PipLayerBundling:
    def __init__(self, requirements: Path, wheelhouse: Path) -> None:
        self._requirements = requirements
        self._wheelhouse = wheelhouse

    def try_bundle(self, output_dir: str, *, image: Any, **_: Any) -> bool:  # noqa: ARG002 - jsii signature
        if not self._wheelhouse.exists():
            download_wheels(self._requirements, self._wheelhouse)
        target = Path(output_dir) / "python"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-index",
                "--find-links",
                str(self._wheelhouse),
                "-r",
                str(self._requirements),
                "--target",
                str(target),
                "--no-compile",
                *pip_platform_args(),
            ],
            check=True,
        )
        for package in PROVIDED_BY_RUNTIME:
            for path in target.glob(f"{package}*"):
                shutil.rmtree(path) if path.is_dir() else path.unlink()
        return True
