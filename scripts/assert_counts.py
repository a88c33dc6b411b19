"""List every test in tests/ with the number of assert statements it holds.

    python scripts/assert_counts.py > before.txt       # one line per test: id, count
    python scripts/assert_counts.py --compare before.txt
    git worktree add /tmp/before <commit>               # or list another checkout:
    python scripts/assert_counts.py --root /tmp/before > before.txt

A structural change (moving code between modules) must leave the suite's assertions as
they were. `--compare` shows what differs from an earlier listing: tests added, removed,
or whose count changed, and pairs a removed test with an added one of the same name and
count as "moved" (a test that changed file or class but kept its body's assertions).

Counts are read from the source (ast), so a test is counted once whatever its
parametrization; asserts in helper functions a test calls are listed under the helper
(`helper` instead of a test id), since a change there changes every caller.
"""

import argparse
import ast
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _asserts(node: ast.AST) -> int:
    return sum(isinstance(child, ast.Assert) for child in ast.walk(node))


def _walk(body, prefix: str, path: str, out: dict) -> None:
    for node in body:
        if isinstance(node, ast.ClassDef):
            _walk(node.body, f"{prefix}{node.name}::", path, out)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            count = _asserts(node)
            if node.name.startswith("test"):
                out[f"{path}::{prefix}{node.name}"] = count
            elif count:
                out[f"helper {path}::{prefix}{node.name}"] = count


def listing(root: Path = ROOT) -> dict[str, int]:
    out: dict[str, int] = {}
    for file in sorted((root / "tests").rglob("*.py")):
        path = file.relative_to(root).as_posix()
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=path)
        _walk(tree.body, "", path, out)
    return out


def _read(path: Path) -> dict[str, int]:
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            name, _, count = line.rpartition(" ")
            out[name] = int(count)
    return out


def _leaf(test_id: str) -> str:
    return test_id.rpartition("::")[2]


def compare(before: dict[str, int], after: dict[str, int]) -> int:
    removed = {k: v for k, v in before.items() if k not in after}
    added = {k: v for k, v in after.items() if k not in before}
    changed = {
        k: (before[k], after[k]) for k in before.keys() & after.keys() if before[k] != after[k]
    }
    pool = Counter((_leaf(k), v) for k, v in added.items())
    moved, lost = [], []
    for test_id, count in sorted(removed.items()):
        key = (_leaf(test_id), count)
        if pool[key]:
            pool[key] -= 1
            moved.append(test_id)
        else:
            lost.append((test_id, count))
    matched = Counter((_leaf(k), before[k]) for k in moved)
    new = []
    for test_id, count in sorted(added.items()):
        key = (_leaf(test_id), count)
        if matched[key]:
            matched[key] -= 1
        else:
            new.append((test_id, count))
    total_before, total_after = sum(before.values()), sum(after.values())
    print(f"tests and helpers: {len(before)} before, {len(after)} after")
    print(f"assert statements: {total_before} before, {total_after} after")
    print(f"moved or renamed (same name and count, another file or class): {len(moved)}")
    for test_id in moved:
        print(f"  moved   {test_id}")
    for test_id, count in lost:
        print(f"  removed {test_id} ({count} asserts)")
    for test_id, count in new:
        print(f"  added   {test_id} ({count} asserts)")
    for test_id, (was, now) in sorted(changed.items()):
        print(f"  changed {test_id}: {was} -> {now} asserts")
    return 1 if (lost or changed) else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", type=Path, help="an earlier listing to compare with")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to list")
    args = parser.parse_args()
    current = listing(args.root)
    if args.compare:
        return compare(_read(args.compare), current)
    for test_id, count in current.items():
        print(f"{test_id} {count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
