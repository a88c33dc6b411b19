"""A claim's rule changes as its admin page lists them: who, when, and each field's
before and after (a secret only as set, replaced or removed)."""

import json
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.utils.text import Truncator

from claims.audit import SECRET_FIELDS
from claims.models import Claim, ClaimRuleChange

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


def _shown(value: Any) -> str:
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
                    {"label": _label(name), "before": _shown(before), "after": _shown(after)}
                )
        rows.append({"at": change.at, "who": change.actor_display(), "items": items})
    return rows
