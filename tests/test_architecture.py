"""Which way imports go, checked the way `make test` checks them.

`lint-imports` (import-linter, contracts in pyproject.toml) must pass on the repository,
and must fail on a copy of it that breaks a contract: a product module that imports the
sandbox, `connections` importing `claims`, `users` importing `connections`, the engine
importing its tasks. `scripts/import_cycles.py` must find no cycle here, and find the one
planted in a copy. No module of the product imports inside a function without a comment
saying why.
"""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = (
    "config",
    "core",
    "branding",
    "users",
    "connections",
    "claims",
    "notifications",
    "members",
    "operations",
)
PACKAGES = (*PRODUCT, "sandbox")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(where: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=where,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(where), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )


def _cycles(where: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(where / "scripts" / "import_cycles.py")],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """The project's packages, contracts and scripts, in a directory of their own, which
    keeps every contract as the repository does (checked once: each test plants its
    change in a copy of this one)."""
    where = tmp_path_factory.mktemp("pristine")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, where / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copytree(ROOT / "scripts", where / "scripts")
    shutil.copy(ROOT / "pyproject.toml", where / "pyproject.toml")
    kept = _lint_imports(where)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    return where


@pytest.fixture
def copy(pristine, tmp_path) -> Path:
    """A copy of the pristine one, for one test to change."""
    shutil.copytree(pristine, tmp_path / "copy")
    return tmp_path / "copy"


def _plant(copy: Path, module: str, line: str) -> None:
    path = copy / module
    path.write_text(path.read_text() + f"\n{line}\n")


def test_the_repository_keeps_every_import_contract():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("claims/services.py", "import sandbox.models", "The product never imports the sandbox"),
        (
            "config/settings.py",
            "import sandbox.credentials",
            "The product never imports the sandbox",
        ),
        ("connections/models.py", "import claims.models", "connections never imports claims"),
        ("users/models.py", "import connections.models", "users imports neither connections"),
        ("sandbox/models.py", "import claims.models", "The sandbox is a copy"),
        ("claims/engine/delivery.py", "import claims.tasks", "claims: entry points"),
        ("claims/engine/ledger.py", "import claims.engine.delivery", "The engine's steps"),
        ("claims/engine/rechecks.py", "import claims.triggers", "claims: entry points"),
        ("claims/pause.py", "import claims.engine.delivery", "claims: entry points"),
        ("claims/pause.py", "import claims.engine", "No cycles between the packages"),
        ("connections/services/accounts.py", "import connections.tasks", "connections: entry"),
        ("connections/tasks.py", "import connections.views", "connections: entry"),
        ("members/services.py", "import members.views", "members: its pages"),
    ],
)
def test_an_import_against_a_contract_fails(copy, module, line, contract):
    _plant(copy, module, line)
    result = _lint_imports(copy)
    assert result.returncode != 0
    broken = result.stdout.split("Contracts:")[0]
    assert f"{contract}" in broken
    assert "BROKEN" in broken


def test_a_module_no_layer_names_fails_until_the_contract_places_it(copy):
    (copy / "claims" / "extra.py").write_text("")
    result = _lint_imports(copy)
    assert result.returncode != 0
    assert "claims.extra" in result.stdout


def test_there_is_no_import_cycle():
    result = _cycles(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No import cycles" in result.stdout


def test_the_cycle_finder_finds_a_cycle_even_inside_a_function(copy):
    _plant(copy, "claims/models.py", "def _late():\n    from claims import pause  # noqa")
    result = _cycles(copy)
    assert result.returncode == 1
    assert "claims.models" in result.stdout and "claims.pause" in result.stdout


def _imports_in_functions(path: Path) -> list[tuple[int, str]]:
    """(line, source) of each import inside a function with no comment on it or above."""
    lines = path.read_text().splitlines()
    tree = ast.parse("\n".join(lines))
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Import | ast.ImportFrom):
                here = lines[node.lineno - 1]
                above = lines[node.lineno - 2] if node.lineno > 1 else ""
                if "#" not in here and not above.strip().startswith("#"):
                    found.append((node.lineno, here.strip()))
    return found


def test_no_import_inside_a_function_without_a_comment_saying_why():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {source}"
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
        for line, source in _imports_in_functions(path)
    ]
    assert offenders == []


def test_the_check_for_function_imports_sees_one(tmp_path):
    module = tmp_path / "module.py"
    module.write_text(
        "def a():\n    import json\n\n\ndef b():\n    # settings are read late\n    import os\n"
    )
    assert _imports_in_functions(module) == [(2, "import json")]
