"""The 600-line limit on product modules, as `make lint` checks it.

`scripts/module_sizes.py ROOT` exits 0 when every module of the product's packages under
ROOT is at most 600 lines, and 1 naming each one over it, with its count and the limit.
Migrations and the sandbox are not held to it.
"""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "module_sizes.py"


def _module(root: Path, relative: str, lines: int) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"x_{n} = {n}\n" for n in range(lines)), encoding="utf-8")


def _run(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_module_of_600_lines_passes(tmp_path):
    _module(tmp_path, "claims/engine/delivery.py", 600)
    _module(tmp_path, "core/__init__.py", 0)

    result = _run(tmp_path)

    assert result.returncode == 0, result.stdout
    assert result.stdout == (
        "2 product modules, none over 600 lines (largest: claims/engine/delivery.py, 600).\n"
    )


def test_a_module_of_601_lines_fails_and_is_named_with_its_count(tmp_path):
    _module(tmp_path, "claims/engine/delivery.py", 600)
    _module(tmp_path, "connections/pipedream/client.py", 601)
    _module(tmp_path, "config/settings.py", 700)

    result = _run(tmp_path)

    assert result.returncode == 1
    assert "connections/pipedream/client.py: 601 lines, over the limit of 600" in result.stdout
    assert "config/settings.py: 700 lines, over the limit of 600" in result.stdout
    assert "delivery.py" not in result.stdout
    assert "2 module(s) over 600 lines." in result.stdout


def test_every_product_package_is_checked(tmp_path):
    for package in ("config", "core", "users", "connections", "claims", "members"):
        _module(tmp_path, f"{package}/big.py", 601)

    result = _run(tmp_path)

    assert result.returncode == 1
    assert "6 module(s) over 600 lines." in result.stdout


def test_migrations_the_sandbox_and_other_files_are_not_held_to_it(tmp_path):
    _module(tmp_path, "claims/migrations/0001_initial.py", 2000)
    _module(tmp_path, "sandbox/pipedream/views/base.py", 2000)
    _module(tmp_path, "tests/test_everything.py", 2000)
    _module(tmp_path, "claims/templates/long.html", 2000)

    result = _run(tmp_path)

    assert result.returncode == 0, result.stdout
