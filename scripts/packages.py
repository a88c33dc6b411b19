"""The project's packages, from one place: pyproject.toml's import-linter root_packages.

The scripts (module_sizes.py, import_cycles.py) and the architecture tests read them
here, so a new app is named once, where the import contracts need it anyway.
"""

import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
# The stand-in for Pipedream and BitBadges: checked for cycles, not held to the size limit.
SANDBOX = "sandbox"

with PYPROJECT.open("rb") as _file:
    ALL: tuple[str, ...] = tuple(tomllib.load(_file)["tool"]["importlinter"]["root_packages"])
PRODUCT: tuple[str, ...] = tuple(name for name in ALL if name != SANDBOX)
