"""Rule evaluation: pure functions, no I/O.

The services gather the facts (the member's accounts, an action's result) and these
functions turn them into `RuleResult`s, the evidence a member and an admin read. Their
labels and details are in the active language when they are made (see claims/wording.py);
the values seen are for staff and stay as they are.
"""

import datetime
import math
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext

from claims import wording
from connections.models import ConnectedAccount
from users.siwbb.config import siwbb_enabled

MISSING = object()
VALUE_SEEN_MAX = 200  # characters of a value kept as evidence


def address_proving_available() -> bool:
    """Whether members can prove an address here: Sign in with BitBadges is on (its client
    id and secret are set). Without it a member is never told to connect BitBadges, and no
    enabled claim may require a proof."""
    return siwbb_enabled()


@dataclass(frozen=True)
class AccountFact:
    """What the rules need to know of one connected account."""

    app_slug: str
    app_name: str
    healthy: bool
    dead: bool
    error: str = ""

    @property
    def usable(self) -> bool:
        """As `ConnectedAccount.usable`: the model says what healthy means, once."""
        return (
            ConnectedAccount.health_of(healthy=self.healthy, dead=self.dead)
            == ConnectedAccount.Health.HEALTHY
        )


def account_facts(accounts) -> list[AccountFact]:
    """The facts of connected accounts (anything with .app, .healthy, .dead, .error)."""
    return [
        AccountFact(
            app_slug=account.app.slug,
            app_name=account.app.name,
            healthy=account.healthy,
            dead=account.dead,
            error=account.error,
        )
        for account in accounts
    ]


@dataclass(frozen=True)
class RuleResult:
    rule: str  # stable key: "app:github", "healthy:github", "criterion:<requirement>", ...
    label: str  # what a member reads: "GitHub connected"
    passed: bool
    value: str = ""  # the value seen, as text
    detail: str = ""  # why it failed, when it did
    at: str = ""  # ISO time of the check

    def as_json(self) -> dict:
        return asdict(self)


def app_rules(
    required: list[tuple[str, str]], accounts: list[AccountFact], *, now: datetime.datetime
) -> list[RuleResult]:
    """For each required (slug, name): is an account connected, and is one healthy?"""
    at = now.isoformat()
    results = []
    for slug, name in required:
        mine = [account for account in accounts if account.app_slug == slug]
        connected = bool(mine)
        results.append(
            RuleResult(
                rule=f"app:{slug}",
                label=gettext("%(app)s connected") % {"app": name},
                passed=connected,
                value=f"{len(mine)} account{'s' if len(mine) != 1 else ''}",
                detail=""
                if connected
                else gettext("Connect your %(app)s account.") % {"app": name},
                at=at,
            )
        )
        if not connected:
            continue
        healthy = [account for account in mine if account.usable]
        if healthy:
            detail, value = "", "healthy"
        else:
            worst = next((account for account in mine if account.dead), mine[0])
            value = "dead" if worst.dead else "unhealthy"
            # The account's error (an upstream message) stays with staff.
            detail = gettext("Your %(app)s account needs reconnecting.") % {"app": name}
        results.append(
            RuleResult(
                rule=f"healthy:{slug}",
                label=gettext("%(app)s account healthy") % {"app": name},
                passed=bool(healthy),
                value=value,
                detail=detail,
                at=at,
            )
        )
    return results


def extract(result: Any, path: str) -> Any:
    """The value at dotted `path` in `result` (list items by index), or MISSING."""
    value = result
    for part in [piece for piece in path.split(".") if piece != ""]:
        if isinstance(value, dict):
            if part not in value:
                return MISSING
            value = value[part]
        elif isinstance(value, list):
            try:
                index = int(part)
            except ValueError:
                return MISSING
            if not -len(value) <= index < len(value):
                return MISSING
            value = value[index]
        else:
            return MISSING
    return value


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _truthy(value: Any) -> bool:
    if value is MISSING or value is None:
        return False
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no")
    return bool(value)


def _text(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    # A value the member's own server wrote (a self-hosted GitLab) may hold NUL, which
    # PostgreSQL cannot store with the evidence.
    text = str(value).replace("\x00", "\ufffd")
    return text if len(text) <= VALUE_SEEN_MAX else text[: VALUE_SEEN_MAX - 1] + "…"


def compare(value: Any, comparison: str, expected: str) -> bool:
    """`value` (from an action result) against the admin's `expected` text."""
    if comparison == "truthy":
        return _truthy(value)
    if value is MISSING:
        return False
    if comparison == "contains":
        if value is None:
            return False  # null holds nothing (not even the letters of "None")
        if isinstance(value, (list, tuple)):
            return any(_equal(item, expected) for item in value)
        if isinstance(value, dict):
            return expected in value
        return expected.lower() in str(value).lower()
    if comparison in ("eq", "ne"):
        equal = _equal(value, expected)
        return equal if comparison == "eq" else not equal
    left, right = _number(value), _number(expected)
    if left is None or right is None:
        return False  # ordering needs two numbers
    return {
        "gt": left > right,
        "gte": left >= right,
        "lt": left < right,
        "lte": left <= right,
    }.get(comparison, False)


def _equal(value: Any, expected: str) -> bool:
    if value is None:  # shown as "null" in the evidence, so it equals "null"
        return str(expected).strip().lower() in ("null", "none")
    if isinstance(value, bool):
        return str(expected).strip().lower() == ("true" if value else "false")
    left, right = _number(value), _number(expected)
    if left is not None and right is not None:
        return left == right
    return str(value).strip().lower() == str(expected).strip().lower()


COMPARISON_WORDS = {
    "eq": "=",
    "ne": "≠",
    "gt": ">",
    "gte": "≥",
    "lt": "<",
    "lte": "≤",
    "contains": "contains",
    "truthy": "is true",
}


def criterion_label(path: str, comparison: str, expected: str) -> str:
    """The check as staff read it (the admin): never shown to members."""
    word = COMPARISON_WORDS.get(comparison, comparison)
    return f"{path} {word}" if comparison == "truthy" else f"{path} {word} {expected}"


def criterion_rule(
    result: Any,
    *,
    path: str,
    comparison: str,
    expected: str,
    now: datetime.datetime,
    text: str = "",
    rule: str = "criterion",
    must_not: bool = False,
    app_name: str = "",
    proxy_url: str = "",
) -> RuleResult:
    """A requirement's check against an action's result. Its label and detail are what
    members read (claims/wording.py): `text` when the admin wrote one, else a sentence
    built without the path or a symbol; the value seen stays in `value` for staff. With
    `must_not` the member meets it when the check does NOT find what it asks."""
    value = extract(result, path)
    found = compare(value, comparison, expected)
    passed = not found if must_not else found
    positive = (text or "").strip().rstrip(".") or wording.check_sentence(
        app_name, path, comparison, expected, proxy_url
    )
    label = wording.must_not_sentence(positive) if must_not else positive
    if passed:
        detail = ""
    elif must_not:
        # Translators: condition is the "must not" sentence with a lower-case first
        # letter: "This claim is not for members who have at least 20 public repos."
        detail = gettext("This claim is %(condition)s.") % {
            "condition": f"{label[:1].lower()}{label[1:]}"
        }
    else:
        fact = "" if value is MISSING else wording.value_fact(path, comparison, _text(value))
        if fact:
            # Translators: "Have at least 5 public repos on GitHub: you have 3."
            detail = gettext("%(requirement)s: %(fact)s.") % {"requirement": positive, "fact": fact}
        else:
            detail = gettext("Not yet: %(requirement)s.") % {"requirement": positive}
    return RuleResult(
        rule=rule,
        label=label,
        passed=passed,
        value=_text(value),
        detail=detail,
        at=now.isoformat(),
    )


def identity_of(result: Any, path: str) -> str | None:
    """The upstream identity named at `path` (e.g. a GitHub login), normalised, or None."""
    value = extract(result, path)
    if value is MISSING or value is None or isinstance(value, (dict, list)):
        return None
    text = str(value).replace("\x00", "").strip().lower()
    return text[:200] or None
