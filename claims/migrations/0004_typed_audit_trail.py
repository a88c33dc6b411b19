"""The typed audit trail: a completion event's actor string becomes an actor kind, the
user (a foreign key, for a member or staff) and a detail that names no one; its boolean
flags in `details` become a reason. Claims get a trail of rule changes."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

KINDS = [
    ("worker", "worker"),
    ("member", "member"),
    ("staff", "staff"),
    ("signal", "signal"),
    ("schedule", "schedule"),
    ("command", "command"),
    ("trigger", "trigger"),
    ("system", "system"),
]
REASONS = [
    ("requested", "a check was asked for"),
    ("forced", "a check was asked for at once (Check again, Retry)"),
    ("taken", "a worker took it up"),
    ("recovered", "taken back from a worker that stopped"),
    ("not_open", "the claim has not opened yet"),
    ("not_eligible", "not eligible"),
    ("delivering", "eligible: delivery started"),
    ("sent", "sent: reference kept"),
    ("delivered", "delivered"),
    ("verified", "an unknown outcome checked upstream"),
    ("error", "an error"),
    ("gave_up", "too many tries"),
    ("outcome_unknown", "a send whose outcome is unknown"),
    ("paused", "the upstream is paused"),
    ("resumed", "the upstream answers again"),
]
# The prefixes the actor strings had ("signal: account connected", ...).
PREFIXES = {
    "signal: ": "signal",
    "command: ": "command",
    "trigger: ": "trigger",
    "schedule: credits back": "system",
    "schedule: ": "schedule",
    "admin: ": "staff",
}


def _actor(label: str, users: dict[str, int]) -> tuple[str, int | None, str]:
    """(kind, user id, detail) for an old actor string; a username never stays."""
    if label == "worker":
        return "worker", None, ""
    for prefix, kind in (("member:", "member"), ("admin:", "staff")):
        if label.startswith(prefix) and not label.startswith(f"{prefix} "):
            return kind, users.get(label[len(prefix) :]), ""
    for prefix, kind in PREFIXES.items():
        if label.startswith(prefix):
            detail = label[len(prefix) :] if prefix.endswith(" ") else label.split(": ", 1)[1]
            return kind, None, detail
    return "system", None, label[:200]


def _reason(details: dict) -> tuple[str, dict]:
    """The reason the old boolean flags gave, and the details without them."""
    details = dict(details or {})
    reason = ""
    if details.pop("force", False):
        reason = "forced"
    recovered = details.pop("recovered", None)
    if recovered:
        reason = "recovered"
        details["stopped_while"] = "delivering" if "delivering" in recovered else "checking"
    if "outcome_unknown" in details and "paused" not in details:
        if details.pop("outcome_unknown"):
            reason = "outcome_unknown"
    if "paused" in details:
        reason = "paused"
    elif "resumed" in details:
        reason = "resumed"
    elif "verified" in details:
        reason = "verified"
    return reason, details


def forwards(apps, schema_editor):
    CompletionEvent = apps.get_model("claims", "CompletionEvent")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    names = set()
    for label in CompletionEvent.objects.values_list("actor_label", flat=True).distinct():
        for prefix in ("member:", "admin:"):
            if label.startswith(prefix) and not label.startswith(f"{prefix} "):
                names.add(label[len(prefix) :])
    users = dict(User.objects.filter(username__in=names).values_list("username", "pk"))
    for event in CompletionEvent.objects.iterator():
        kind, user_id, detail = _actor(event.actor_label, users)
        reason, details = _reason(event.details)
        event.actor_kind, event.actor_id, event.actor_detail = kind, user_id, detail
        event.reason, event.details = reason, details
        event.save(update_fields=["actor_kind", "actor", "actor_detail", "reason", "details"])


def backwards(apps, schema_editor):
    CompletionEvent = apps.get_model("claims", "CompletionEvent")
    for event in CompletionEvent.objects.select_related("actor").iterator():
        if event.actor_kind in ("member", "staff") and not event.actor_detail:
            prefix = "member" if event.actor_kind == "member" else "admin"
            name = event.actor.username if event.actor_id else "(deleted)"
            event.actor_label = f"{prefix}:{name}"
        elif event.actor_kind == "worker" or not event.actor_detail:
            event.actor_label = event.actor_kind
        else:
            kind = "admin" if event.actor_kind == "staff" else event.actor_kind
            event.actor_label = f"{kind}: {event.actor_detail}"
        event.save(update_fields=["actor_label"])


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0003_delivery_pause_and_resend"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RenameField(
            model_name="completionevent", old_name="actor", new_name="actor_label"
        ),
        migrations.AddField(
            model_name="completionevent",
            name="actor_kind",
            field=models.CharField(choices=KINDS, default="system", max_length=10),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="completionevent",
            name="actor",
            field=models.ForeignKey(
                blank=True,
                help_text="The person, for a member or staff; empty once they deleted their account.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="completionevent",
            name="actor_detail",
            field=models.CharField(
                blank=True, help_text="e.g. the signal, command or trigger event.", max_length=200
            ),
        ),
        migrations.AddField(
            model_name="completionevent",
            name="reason",
            field=models.CharField(blank=True, choices=REASONS, max_length=20),
        ),
        migrations.RunPython(forwards, backwards),
        # A default only so that undoing the removal can add the column back (the
        # reverse of RunPython then fills it in).
        migrations.AlterField(
            model_name="completionevent",
            name="actor_label",
            field=models.CharField(default="", max_length=200),
        ),
        migrations.RemoveField(model_name="completionevent", name="actor_label"),
        migrations.CreateModel(
            name="ClaimRuleChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("actor_kind", models.CharField(choices=KINDS, max_length=10)),
                (
                    "actor_detail",
                    models.CharField(
                        blank=True,
                        help_text="e.g. the signal, command or trigger event.",
                        max_length=200,
                    ),
                ),
                ("at", models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ("changes", models.JSONField(default=dict)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        help_text="The person, for a member or staff; empty once they deleted their account.",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "claim",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="rule_changes",
                        to="claims.claim",
                    ),
                ),
            ],
            options={"verbose_name": "claim rule change", "ordering": ["-at", "-pk"]},
        ),
    ]
