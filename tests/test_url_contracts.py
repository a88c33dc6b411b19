"""The paths docs/architecture.md lists as contracts still lead to a view.

The table in "URLs other systems rely on" is the list; a path removed or renamed in
the URLconf fails here, and so does a row added to the table for a path nobody serves.
"""

import re
from pathlib import Path

import pytest
from django.urls import Resolver404, resolve

DOC = Path(__file__).resolve().parent.parent / "docs" / "architecture.md"
SAMPLE = {"<slug>": "a-claim", "<app>": "github"}


def documented(path: str) -> str:
    """The path as its table row writes it (placeholders back in), to compare routes."""
    for placeholder, value in SAMPLE.items():
        path = path.replace(f"/{value}/", f"/{placeholder}/")
    return path


def contract_paths() -> list[str]:
    text = DOC.read_text()
    section = text.split("## URLs other systems rely on", 1)[1].split("\n## ", 1)[0]
    paths = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        first_cell = line.split("|")[1]
        for path in re.findall(r"`([^`]+)`", first_cell):
            for placeholder, value in SAMPLE.items():
                path = path.replace(placeholder, value)
            paths.append(path)
    return paths


def test_the_table_lists_the_contracts():
    paths = contract_paths()
    assert "/connect/webhook/" in paths
    assert "/c/a-claim/" in paths
    assert len(paths) >= 15


@pytest.mark.parametrize("path", contract_paths())
def test_each_contract_path_resolves(path):
    # The sandbox's two are base URLs; a request under them is what reaches a view.
    probe = {
        "/sandbox/pipedream/": "/sandbox/pipedream/v1/oauth/token",
        "/sandbox/bitbadges/": "/sandbox/bitbadges/api/v0/status",
    }.get(path, path)
    try:
        match = resolve(probe)
    except Resolver404:
        pytest.fail(f"{path} is a documented contract and no longer resolves")
    assert callable(match.func)
    if probe == path:
        # Served by its own route, not caught by a neighbour's pattern
        # (/connect/<app>/ would otherwise answer for a removed /connect/done/).
        route = "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", match.route)
        assert route == documented(path), f"{path} is served by the route {match.route!r}"
