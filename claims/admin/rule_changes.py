"""A claim's rule changes as its admin page lists them: who, when, and each field's
before and after (a secret only as set, replaced or removed)."""

import json
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.utils.text import Truncator

from claims.audit import REQUIREMENTS, SECRET_FIELDS
from claims.models import Claim, ClaimRuleChange
from claims.rules import COMPARISON_WORDS

SHOWN = 100  # the newest changes listed on the claim's page
SECRET_LABELS = {"password": "password plugin's password", "store_secret": "dynamic store secret"}


def _label(name: str) -> str:
    if name in SECRET_LABELS:
        return SECRET_LABELS[name]
    try:
        field = Claim._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    return str(getattr(field, "verbose_name", name))


GROUP_WORDS = {"all": "must", "any": "one of", "none": "must not"}


def _requirement(item: Any) -> str:
    """A requirement as the trail kept it (Requirement.snapshot), in words: "must: a
    GitHub account", "one of: discord github-get-current-user user.public_repos ≥ 5"."""
    if not isinstance(item, dict):
        return str(item)
    group = GROUP_WORDS.get(str(item.get("group")), str(item.get("group")))
    app = str(item.get("app") or "?")
    if item.get("kind") == "account":
        words = f"a {app} account"
    else:
        source = item.get("action") or item.get("proxy_url") or "?"
        if item.get("props"):
            source = f"{source} {json.dumps(item['props'], sort_keys=True)}"
        comparison = COMPARISON_WORDS.get(str(item.get("comparison")), item.get("comparison"))
        test = f"{item.get('path', '')} {comparison} {item.get('value', '')}".strip()
        words = f"{app} {source}: {test}"
    if item.get("text"):
        words += f" (“{item['text']}”)"
    if item.get("identity_path"):
        words += f", identity {item['identity_path']}"
    return f"{group}: {words}"


def _shown(value: Any, name: str = "") -> str:
    if name == REQUIREMENTS and isinstance(value, list):
        text = "; ".join(_requirement(item) for item in value) or "—"
        return Truncator(text).chars(1000)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or "—"
    if isinstance(value, dict):
        value = json.dumps(value, sort_keys=True)
    return Truncator(str(value)).chars(120)


def rule_change_rows(claim: Claim) -> list[dict[str, Any]]:
    """The newest changes first, each {at, who, items: [{label, before, after} or
    {label, secret}]}; a secret's value is never in the trail, so never here."""
    rows = []
    changes = ClaimRuleChange.objects.filter(claim=claim).select_related("actor")
    for change in changes[:SHOWN]:
        items = []
        for name, value in change.changes.items():
            if name in SECRET_FIELDS:
                items.append({"label": _label(name), "secret": str(value)})
            elif isinstance(value, list) and len(value) == 2:
                before, after = value
                items.append(
                    {
                        "label": _label(name),
                        "before": _shown(before, name),
                        "after": _shown(after, name),
                    }
                )
        rows.append({"at": change.at, "who": change.actor_display(), "items": items})
    return rows
