"""docs/fidelity.md names the tests that pin each behaviour and the sandbox code that
copies it: every one it names must exist, so the document cannot drift from the code."""

import ast
import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "fidelity.md"
TEST_REF = re.compile(r"`((?:[a-z_]+/)*[a-z_0-9]+\.py)(?:::([A-Za-z_0-9]+))?`")
# sandbox/<module>.py:<name>, the module at any depth (sandbox/pipedream/views/base.py).
SANDBOX_REF = re.compile(r"`(sandbox/(?:[a-z_]+/)*[a-z_]+\.py):([A-Za-z_][A-Za-z_0-9]*)`")
SANDBOX_FILE = re.compile(r"`(sandbox/(?:[a-z_]+/)*[a-z_]+\.py)(?::[A-Za-z_0-9]+)?`")
# Bare names are looked up in the emulated BitBadges (the rows are mostly about it) and
# in the sandbox's models.
BARE_NAMES_IN = [*(ROOT / "sandbox" / "bitbadges").glob("*.py"), *ROOT.glob("sandbox/*/models.py")]


@functools.cache  # a test file is named in many rows: parsed once
def _names(path: Path) -> frozenset[str]:
    tree = ast.parse(path.read_text())
    return frozenset(
        {
            node.name
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
        }
        | {
            target.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
    )


def _rows() -> list[str]:
    return [
        line for line in DOC.read_text().splitlines() if line.startswith("| ") and "|" in line[2:]
    ]


def test_every_test_the_document_names_exists():
    named = 0
    for line in _rows():
        test_column = line.rstrip(" |").rsplit(" | ", 1)[-1]
        for path, name in TEST_REF.findall(test_column):
            file = ROOT / "tests" / path
            assert file.is_file(), f"docs/fidelity.md names tests/{path}, which does not exist"
            if name:
                assert name in _names(file), f"tests/{path} has no {name}"
            named += 1
    assert named >= 25


@pytest.mark.parametrize("column", [3])
def test_every_sandbox_function_the_document_names_exists(column):
    default = set().union(*(_names(path) for path in BARE_NAMES_IN))
    checked = 0
    for line in _rows():
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        if len(cells) < 5 or not cells[0].isdigit():
            continue
        sandbox = cells[column]
        for path in SANDBOX_FILE.findall(sandbox):
            assert (ROOT / path).is_file(), f"docs/fidelity.md names {path}, which does not exist"
        for path, name in SANDBOX_REF.findall(sandbox):
            assert name in _names(ROOT / path), f"{path} has no {name}"
            checked += 1
        bare = re.sub(SANDBOX_REF, "", sandbox)
        for name in re.findall(r"`([a-z_][a-z_0-9]*)`", bare):
            if name.isupper() or name in {"requires_sign_in"}:
                continue
            assert name in default, f"neither sandbox/bitbadges/ nor the models have {name}"
            checked += 1
    assert checked >= 20
