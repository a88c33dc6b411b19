"""A claim's life as BitBadges describes it: how many uses it has and has used, the time
windows it accepts attempts in, and whether it is halted.

Read from the claim's iClaimDetails (GET /api/v0/claim/{id}); the sources for each field
are in docs/fidelity.md ("A claim's life"):

- `numUses`: publicParams `maxUses`, publicState `numUses` (absent when the claim hides
  its state). Always required: custom success logic cannot make it optional.
- `transferTimes`: publicParams `transferTimes`, a list of UNIX-millisecond ranges
  (both ends included); an attempt passes when now falls in one of them. Duplicates are
  allowed: by default every instance must pass, so the windows are their intersection.
- `halt`: no params; every attempt fails while an instance is present.

A claim with custom success logic (`satisfyMethod`) may make `halt` or `transferTimes`
optional: an instance counts only when its failure alone fails the claim with every other
plugin passing. Under a `NOT` (whose meaning no source settles) none counts.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from claims.bitbadges.badge import BadgeDetails, details_of
from claims.bitbadges.client import number

# Milliseconds beyond what a datetime holds mean "no end" (BitBadges' UI ends a window
# that never closes at the largest uint64); a start of 0 or 1 means "no start".
_MAX_MS = int(datetime.datetime(9999, 1, 1, tzinfo=datetime.UTC).timestamp() * 1000)
# The windows of a claim none of whose windows can ever be open (an empty intersection).
NEVER = ((0, 0),)


@dataclass(frozen=True)
class ClaimLife:
    """What BitBadges said of a claim at `fetched_at`. None: not said (or not readable)."""

    max_uses: int | None  # numUses maxUses (0: BitBadges' sources differ on its meaning)
    used: int | None  # numUses publicState numUses; None when the claim hides its state
    windows: tuple[tuple[int, int], ...]  # ms ranges it is open in; () when no window
    halted: bool
    fetched_at: datetime.datetime
    display_unlimited: bool = False  # numUses displayAsUnlimited: shown as unlimited
    badge: BadgeDetails | None = None  # the claim's metadata and collection (badge.py)

    @property
    def remaining(self) -> int | None:
        if not self.max_uses or self.used is None:
            return None
        return max(self.max_uses - self.used, 0)

    @property
    def used_up(self) -> bool:
        return bool(self.max_uses) and self.used is not None and self.used >= (self.max_uses or 0)

    @property
    def window_start(self) -> datetime.datetime | None:
        return ms_datetime(self.windows[0][0], start=True) if self.windows else None

    @property
    def window_end(self) -> datetime.datetime | None:
        return ms_datetime(self.windows[-1][1], start=False) if self.windows else None


def ms_datetime(value: int, *, start: bool) -> datetime.datetime | None:
    """A window's end in UNIX ms as a datetime; None for "no start" or "no end"."""
    if start and value <= 1:
        return None
    if value >= _MAX_MS:
        return None
    return datetime.datetime.fromtimestamp(value / 1000, tz=datetime.UTC)


def life_of(claim: Mapping[str, Any], *, fetched_at: datetime.datetime) -> ClaimLife:
    """The life of an iClaimDetails (already checked to have a list of plugins)."""
    plugins = [p for p in claim.get("plugins") or [] if isinstance(p, Mapping)]
    method = claim.get("satisfyMethod")
    max_uses = used = None
    unlimited = False
    windows: tuple[tuple[int, int], ...] | None = None
    halted = False
    for plugin in plugins:
        kind = plugin.get("pluginId")
        public = plugin.get("publicParams")
        public = public if isinstance(public, Mapping) else {}
        if kind == "numUses":
            state = plugin.get("publicState")
            state = state if isinstance(state, Mapping) else {}
            max_uses = _count(public.get("maxUses"), "maxUses")
            used = _count(state.get("numUses"), "numUses")
            unlimited = public.get("displayAsUnlimited") is True
        elif kind == "halt" and _required(method, plugin):
            halted = True
        elif kind == "transferTimes" and _required(method, plugin):
            ranges = _ranges(public.get("transferTimes"))
            windows = ranges if windows is None else _intersect(windows, ranges)
    if windows == ():
        windows = NEVER  # a window plugin that never lets anyone in
    return ClaimLife(
        max_uses=max_uses,
        used=used,
        windows=windows or (),
        halted=halted,
        fetched_at=fetched_at,
        display_unlimited=unlimited,
        badge=details_of(claim),
    )


def _count(value: Any, name: str) -> int | None:
    """A use count of the numUses plugin: None when absent, else a whole number.

    A value that is there but is no whole number makes the answer unreadable (the
    reading fails and the last one stands), never "no limit".
    """
    if value is None:
        return None
    count = number(value)
    if count is None:
        raise ValueError(f"{name} is not a whole number")
    return count


def _ranges(value: Any) -> tuple[tuple[int, int], ...]:
    """transferTimes as sorted, merged (start, end) pairs; unreadable ranges are dropped."""
    pairs = []
    for item in value if isinstance(value, list) else []:
        if not isinstance(item, Mapping):
            continue
        start, end = number(item.get("start")), number(item.get("end"))
        if start is not None and end is not None and start <= end:
            pairs.append((start, end))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(pairs):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return tuple(merged)


def _intersect(
    first: Iterable[tuple[int, int]], second: Iterable[tuple[int, int]]
) -> tuple[tuple[int, int], ...]:
    out = []
    for a_start, a_end in first:
        for b_start, b_end in second:
            start, end = max(a_start, b_start), min(a_end, b_end)
            if start <= end:
                out.append((start, end))
    return tuple(sorted(out))


def _required(method: Any, plugin: Mapping[str, Any]) -> bool:
    """Whether this plugin failing, and every other passing, fails the claim."""
    if not isinstance(method, Mapping):
        return True  # no custom logic: every plugin must pass
    return _satisfied(method, str(plugin.get("instanceId") or "")) is False


def _satisfied(method: Mapping[str, Any], failing: str) -> bool | None:
    """iSatisfyMethod with only `failing` failing; None where no source settles it."""
    kind = method.get("type")
    conditions = method.get("conditions")
    if not isinstance(conditions, list) or kind not in ("AND", "OR"):
        return None  # NOT, or a shape no source describes
    results: list[bool | None] = []
    for condition in conditions:
        if isinstance(condition, str):
            results.append(condition != failing)
        elif isinstance(condition, Mapping):
            results.append(_satisfied(condition, failing))
        else:
            return None
    if None in results:
        return None
    passed = sum(1 for result in results if result)
    if kind == "AND":
        return passed == len(results)
    options = method.get("options")
    least = number(options.get("minNumSatisfied")) if isinstance(options, Mapping) else None
    return passed >= (least or 1)
