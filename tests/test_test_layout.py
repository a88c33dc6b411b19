"""Test helpers live in conftest.py files and *_support.py modules (issue 14, item 3).

A module under tests/ may import from the tests package only *_support modules (a module
whose last name part ends with `_support`). Importing a conftest (its fixtures are
reached by conftest scoping), a test_* module, or any other module of tests/ (a package
__init__ included) is refused, and each such import is named.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _is_module(root: Path, dotted: str) -> bool:
    path = root.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _targets(node: ast.AST, root: Path, package: list[str]) -> list[str]:
    """The modules an import statement reaches (`from a import b` reaches a.b when b is a
    module, else a)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = package[: len(package) - (node.level - 1)]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    found = []
    for alias in node.names:
        candidate = f"{module}.{alias.name}"
        found.append(candidate if _is_module(root, candidate) else module)
    return found


def layout_violations(root: Path = ROOT) -> list[str]:
    """Every import, in a .py file under root/tests, of a tests module that is not a
    *_support module, as "path:line imports module"."""
    found = []
    for file in sorted((root / "tests").rglob("*.py")):
        if "node_modules" in file.parts:
            continue
        relative = file.relative_to(root)
        package = list(relative.parent.parts)
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(relative))
        for node in ast.walk(tree):
            for target in _targets(node, root, package):
                if target != "tests" and not target.startswith("tests."):
                    continue
                if not target.rsplit(".", 1)[-1].endswith("_support"):
                    found.append((relative.as_posix(), node.lineno, target))
    return [f"{path}:{line} imports {target}" for path, line, target in sorted(found)]


def test_test_modules_import_helpers_only_from_support_modules():
    violations = layout_violations()
    assert not violations, (
        "Helpers must live in conftest.py (fixtures) or a *_support.py module; these "
        "imports reach another kind of module:\n" + "\n".join(violations)
    )


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_the_layout_check_names_each_import_of_a_non_support_module(tmp_path):
    _write(
        tmp_path,
        {
            "tests/__init__.py": "HELPER = 1\n",
            "tests/conftest.py": "from tests.members_support import verify\n",
            "tests/members_support.py": "def verify(): ...\n",
            "tests/members.py": "def verify(): ...\n",
            "tests/test_a.py": "def test_a(): ...\n",
            "tests/sub/__init__.py": "",
            "tests/sub/conftest.py": "LIMIT = 3\n",
            "tests/sub/world_support.py": "from ..members_support import verify\n",
            "tests/sub/test_b.py": (
                "import os\n"
                "import tests.members_support\n"
                "from tests import members_support\n"
                "from tests.sub import world_support\n"
                "from tests.sub.world_support import verify\n"
                "from . import world_support as world\n"
                "from tests.sub.conftest import LIMIT\n"
                "from tests.test_a import test_a\n"
                "import tests.members\n"
                "from tests import HELPER\n"
                "from .conftest import LIMIT as L\n"
                "def test_b():\n"
                "    from tests.members import verify\n"
            ),
        },
    )
    assert layout_violations(tmp_path) == [
        "tests/sub/test_b.py:7 imports tests.sub.conftest",
        "tests/sub/test_b.py:8 imports tests.test_a",
        "tests/sub/test_b.py:9 imports tests.members",
        "tests/sub/test_b.py:10 imports tests",
        "tests/sub/test_b.py:11 imports tests.sub.conftest",
        "tests/sub/test_b.py:13 imports tests.members",
    ]


def test_the_layout_check_allows_support_modules_only(tmp_path):
    _write(
        tmp_path,
        {
            "tests/__init__.py": "",
            "tests/openapi_support.py": "SPEC = {}\n",
            "tests/conftest.py": "from tests.openapi_support import SPEC\n",
            "tests/test_c.py": "import tests.openapi_support as support\n",
        },
    )
    assert layout_violations(tmp_path) == []
