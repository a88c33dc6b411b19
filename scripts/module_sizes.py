"""Fail when a product module is over 600 lines; `make lint` runs it.

    .venv/bin/python scripts/module_sizes.py [ROOT]

Every .py file under the product's packages (pyproject.toml's import-linter
root_packages, through scripts/packages.py) counts, migrations aside; the sandbox is a
stand-in for two outside services and is not held to it. ROOT is the repository (this script's parent's parent by default).
Each module over the limit is printed with its line count; the exit status is then 1.
"""

import sys
from pathlib import Path

from packages import PRODUCT  # scripts/packages.py: pyproject.toml's root_packages

LIMIT = 600
PACKAGES = PRODUCT


def sizes(root: Path) -> list[tuple[Path, int]]:
    """Each product module under root, and its line count."""
    counted = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.relative_to(root).parts:
                continue
            lines = len(path.read_text(encoding="utf-8").splitlines())
            counted.append((path.relative_to(root), lines))
    return counted


def oversized(root: Path, limit: int = LIMIT) -> list[tuple[Path, int]]:
    """Each product module under root with more than limit lines, and its line count."""
    return [(path, lines) for path, lines in sizes(root) if lines > limit]


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent
    counted = sizes(root)
    found = [(path, lines) for path, lines in counted if lines > LIMIT]
    for path, lines in found:
        print(f"{path}: {lines} lines, over the limit of {LIMIT}; split it into a package")
    if found:
        print(f"{len(found)} module(s) over {LIMIT} lines.")
        return 1
    if counted:
        path, lines = max(counted, key=lambda item: item[1])
        print(
            f"{len(counted)} product modules, none over {LIMIT} lines (largest: {path}, {lines})."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
