"""Print every import cycle among the project's modules; exit 1 if there is one.

    .venv/bin/python scripts/import_cycles.py

Every import statement counts, including one inside a function: grimp reads them all.
A cycle is a group of modules each of which reaches the others through imports (a
strongly connected component of the import graph); one path around it is printed.
"""

import sys
from pathlib import Path

import grimp
from packages import ALL  # scripts/packages.py: pyproject.toml's root_packages

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ALL


def components(graph) -> list[list[str]]:
    """Tarjan's strongly connected components with more than one module, iteratively."""
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in modules:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
    return found


def main() -> int:
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    cycles = components(graph)
    for group in cycles:
        path = graph.find_shortest_chain(importer=group[1], imported=group[0]) or ()
        back = graph.find_shortest_chain(importer=group[0], imported=group[1]) or ()
        print(f"Cycle of {len(group)} modules: {', '.join(group)}")
        print("  " + " -> ".join([*path, *back[1:]]))
    modules = len(graph.modules)
    if cycles:
        print(f"{len(cycles)} import cycle(s) among {modules} modules.")
        return 1
    print(f"No import cycles among {modules} modules of {', '.join(PACKAGES)}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
