"""Which way imports go, checked the way `make test` checks them.

`lint-imports` (import-linter, contracts in pyproject.toml) must pass on the repository,
and must fail on a copy of it that breaks a contract: a product module that imports the
sandbox, `connections` importing `claims`, `users` importing `connections`, the engine
importing its tasks. `scripts/import_cycles.py` must find no cycle here, and find the one
planted in a copy. No module of the product imports inside a function without a comment
saying why.
"""

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.packages import ALL, PRODUCT

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ALL
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


# Template tag libraries claims offers (claims/templatetags/), by name.
CLAIMS_TAG_LIBRARIES = {
    path.stem for path in (ROOT / "claims" / "templatetags").glob("*.py") if path.stem != "__init__"
}
# The one claims use connections' templates may make (pyproject.toml, above the
# connections-not-claims contract): /accounts/'s warnings.
CLAIMS_IN_CONNECTIONS_TEMPLATES = {("accounts.html", "claim_needs")}
_COMMENTS = re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}|{#.*?#}", re.S)
_TAG = re.compile(r"{%\s*(load|include|extends|url)\s+(.*?)\s*%}", re.S)


def _claims_uses(name: str, text: str) -> list[tuple[str, str]]:
    """(template name, what of claims it uses): each claims tag library it loads, each
    claims template it includes or extends, each claims URL it names."""
    found = []
    for tag, args in _TAG.findall(_COMMENTS.sub("", text)):
        words = args.split()
        if tag == "load":
            # {% load a b %} or {% load name other from library %}
            libraries = words[words.index("from") + 1 :] if "from" in words else words
            found += [(name, lib) for lib in libraries if lib in CLAIMS_TAG_LIBRARIES]
        elif words and re.match(r"""["']claims[:/]""", words[0]):
            found.append((name, f"{tag} {words[0]}"))
    return found


def _connections_templates():
    for folder in (ROOT / "templates" / "connections", ROOT / "connections" / "templates"):
        for path in sorted(folder.rglob("*.html")) if folder.is_dir() else ():
            yield path.relative_to(folder).as_posix(), path.read_text()


def test_connections_templates_use_only_the_claim_needs_tags_of_claims():
    assert "claim_needs" in CLAIMS_TAG_LIBRARIES
    uses = {use for name, text in _connections_templates() for use in _claims_uses(name, text)}
    assert uses <= CLAIMS_IN_CONNECTIONS_TEMPLATES, uses - CLAIMS_IN_CONNECTIONS_TEMPLATES


def test_the_template_check_sees_each_kind_of_claims_use():
    text = (
        "{% load i18n claim_needs %}{% load static claim_badge %}{% load x from claim_landing %}"
        "{% include 'claims/_row.html' %}{% url \"claims:landing\" slug %}{% url 'home' %}"
        "{% comment %}{% load claims_admin %}{% endcomment %}"
    )
    assert _claims_uses("a.html", text) == [
        ("a.html", "claim_needs"),
        ("a.html", "claim_badge"),
        ("a.html", "claim_landing"),
        ("a.html", "include 'claims/_row.html'"),
        ("a.html", 'url "claims:landing"'),
    ]
