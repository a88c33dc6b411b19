"""The audit trail's vocabulary: who did something (`Actor`), and what changed in a
claim's rules (`ClaimRuleChange`).

Every audited row says who caused it with an actor kind, the user when a person did it
(a member, a staff user), and a short detail that never names a person: a signal's name,
a command, a trigger and its event ID. The user is a foreign key that becomes NULL when
the person deletes their account, so no username outlives them in the ledger.

A claim's rules are snapshotted before and after a change (`rules_snapshot`), and what
differs is kept as {field: [before, after]}. Secrets are never kept, not even
encrypted: a secret's entry says only that it was set, replaced or removed (the same
secret typed again is no change).
"""

import datetime
from dataclasses import dataclass
from typing import Any, Self

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models
from django.utils import timezone

from claims import secrets


class ActorKind(models.TextChoices):
    """Who or what caused an audited change (with the user, when it is a person)."""

    WORKER = "worker", "worker"
    MEMBER = "member", "member"
    STAFF = "staff", "staff"
    SIGNAL = "signal", "signal"
    SCHEDULE = "schedule", "schedule"
    COMMAND = "command", "command"
    TRIGGER = "trigger", "trigger"
    SYSTEM = "system", "system"


PEOPLE = (ActorKind.MEMBER, ActorKind.STAFF)


@dataclass(frozen=True)
class Actor:
    """Who asks for a change, as the engine and the admin pass it along."""

    kind: ActorKind
    user_id: int | None = None
    detail: str = ""

    @classmethod
    def worker(cls) -> Self:
        return cls(ActorKind.WORKER)

    @classmethod
    def member(cls, user: AbstractBaseUser) -> Self:
        return cls(ActorKind.MEMBER, user.pk)

    @classmethod
    def staff(cls, user: AbstractBaseUser | None, detail: str = "") -> Self:
        return cls(ActorKind.STAFF, user.pk if user is not None else None, detail)

    @classmethod
    def signal(cls, name: str) -> Self:
        return cls(ActorKind.SIGNAL, detail=name)

    @classmethod
    def schedule(cls, name: str) -> Self:
        return cls(ActorKind.SCHEDULE, detail=name)

    @classmethod
    def command(cls, name: str) -> Self:
        return cls(ActorKind.COMMAND, detail=name)

    @classmethod
    def trigger(cls, component: str, event_id: str) -> Self:
        return cls(ActorKind.TRIGGER, detail=f"{component} event {event_id}")

    @classmethod
    def system(cls, detail: str) -> Self:
        return cls(ActorKind.SYSTEM, detail=detail)

    def fields(self) -> dict[str, Any]:
        """The audited row's actor columns."""
        return {
            "actor_kind": self.kind,
            "actor_id": self.user_id,
            "actor_detail": self.detail[:200],
        }

    def __str__(self) -> str:
        """For logs: the user's ID, never their name."""
        who = f" #{self.user_id}" if self.user_id is not None else ""
        return f"{self.kind}{who}" + (f": {self.detail}" if self.detail else "")


class Audited(models.Model):
    """The actor columns every audited row has."""

    actor_kind = models.CharField(max_length=10, choices=ActorKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The person, for a member or staff; empty once they deleted their account.",
    )
    actor_detail = models.CharField(
        max_length=200, blank=True, help_text="e.g. the signal, command or trigger event."
    )

    class Meta:
        abstract = True

    def actor_display(self) -> str:
        """ "kind: who", e.g. "staff: bob", "member: (deleted)", "signal: account connected"
        ("staff: claim enabled" when the staff user is not known, or gone)."""
        who = self.actor_detail
        if self.actor_kind in PEOPLE and self.actor is not None:
            person = self.actor.get_username()
            who = f"{person} ({who})" if who else person
        elif self.actor_kind in PEOPLE and not who:
            who = "(deleted)"  # the person deleted their account
        label = ActorKind(self.actor_kind).label if self.actor_kind in ActorKind else "?"
        return f"{label}: {who}" if who else label


class ClaimRuleChange(Audited):
    """A change to a claim's rules: who, when, and {field: [before, after]}; a secret
    appears only as {field: "set" | "replaced" | "removed"}."""

    claim = models.ForeignKey("claims.Claim", on_delete=models.CASCADE, related_name="rule_changes")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    changes = models.JSONField(default=dict)

    class Meta:
        ordering = ["-at", "-pk"]
        verbose_name = "claim rule change"

    def __str__(self) -> str:
        return f"{self.claim} changed by {self.actor_display()}"


# What a claim's rules are: every setting an admin edits, secrets aside.
RULE_FIELDS = (
    "name",
    "slug",
    "description",
    "enabled",
    "cap",
    "require_proven_address",
    "one_completion_per_address",
    "trigger_app",
    "trigger",
    "trigger_scope",
    "trigger_props",
    "trigger_event_label",
    "recheck_interval",
    "delivery",
    "bitbadges_claim_id",
    "password_instance_id",
    "store_id",
    "workflow_url",
    "starts_at",
    "ends_at",
)
# The claim's requirements, as one entry of the trail: the list before and after.
REQUIREMENTS = "requirements"
# A secret's name in the trail, and where its ciphertext is stored.
SECRET_FIELDS = {"password": "password_encrypted", "store_secret": "store_secret_encrypted"}


def _plain(value: Any) -> Any:
    """A value as JSON keeps it."""
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return str(value)
    return value


def rules_snapshot(claim: Any) -> dict[str, Any]:
    """The claim's rules as they are now (read from the instance and its saved apps);
    {} for a claim not saved yet. (`claim` is a claims.models.Claim, which imports this
    module.) Secrets appear as their ciphertext, which only
    `rule_changes` reads and never keeps."""
    if claim is None or claim.pk is None:
        return {}
    snapshot: dict[str, Any] = {}
    for name in RULE_FIELDS:
        if name == "trigger_app":
            app = claim.trigger_app
            value: Any = app.slug if app is not None else None
        else:
            value = _plain(getattr(claim, name))
        snapshot[name] = value
    # The requirements as saved, in order (a change to one shows as the list before and
    # after).
    snapshot[REQUIREMENTS] = [
        requirement.snapshot() for requirement in claim.requirements.select_related("app")
    ]
    for name, stored in SECRET_FIELDS.items():
        snapshot[name] = getattr(claim, stored)
    return snapshot


def rule_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What differs between two snapshots: {field: [before, after]}; for a secret,
    only whether it was set, replaced or removed."""
    changes: dict[str, Any] = {}
    for name in (*RULE_FIELDS, REQUIREMENTS):
        old, new = before.get(name), after.get(name)
        if old in ("", [], {}):
            old = None
        if new in ("", [], {}):
            new = None
        if old != new:
            changes[name] = [old, new]
    for name in SECRET_FIELDS:
        old, new = before.get(name) or "", after.get(name) or ""
        if old != new and _readable(old) != _readable(new):
            changes[name] = "set" if not old else "removed" if not new else "replaced"
    return changes


def _readable(ciphertext: str) -> str:
    """The secret, to compare (the same secret encrypted again is no change); the
    ciphertext itself when no key reads it."""
    try:
        return secrets.decrypt(ciphertext) if ciphertext else ""
    except secrets.SecretUnreadable:
        return ciphertext


def rule_change_record(claim: Any, before: dict[str, Any], actor: Actor) -> ClaimRuleChange | None:
    """Write down how `claim` (saved, with its apps) differs from `before` (its
    snapshot before the change); None when nothing did."""
    changes = rule_changes(before, rules_snapshot(claim))
    if not changes:
        return None
    return ClaimRuleChange.objects.create(claim=claim, changes=changes, **actor.fields())
