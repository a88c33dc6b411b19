"""Staff actions on the ledger: a revoked state, the reasons revoked, re-issued and
granted, a completion marked as granted by staff, and the permission to do these
(claims.manage_completions).

The Operator role (0011, 0015) is given the permission only while its group still holds
every permission those gave it: a group an operator reshaped is theirs, and is left as
it is. Claims editors and Support are not given it.
"""

from importlib import import_module

from django.contrib.auth.management import create_permissions
from django.db import migrations, models

ROLE = "Operator"
CODENAME = "manage_completions"


def _previous(name):
    """(app label, codename) of each permission 0011 and 0015 gave the role `name`."""
    roles = import_module("claims.migrations.0011_staff_roles")
    later = import_module("claims.migrations.0015_roles_for_requirements")
    return roles._wanted(name) | {("claims", codename) for codename in later.ADDED[name]}


def add_permission(apps, schema_editor):
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = True  # as 0011 does: create_permissions skips otherwise
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=ROLE).first()
    if group is None:
        return
    held = set(group.permissions.values_list("content_type__app_label", "codename"))
    if not _previous(ROLE) <= held:
        return
    group.permissions.add(
        *Permission.objects.filter(content_type__app_label="claims", codename=CODENAME)
    )


def remove_permission(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=ROLE).first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="claims", codename=CODENAME)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0018_claim_life"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="completion",
            options={
                "ordering": ["-updated_at", "-pk"],
                "permissions": [
                    ("manage_completions", "Can revoke, re-issue and grant completions by hand")
                ],
            },
        ),
        migrations.AddField(
            model_name="completion",
            name="staff_granted",
            field=models.BooleanField(
                default=False,
                help_text="A staff member granted it by hand or re-issued it: it is delivered without its requirements being checked again (the ledger says who and why).",
            ),
        ),
        migrations.AlterField(
            model_name="completion",
            name="state",
            field=models.CharField(
                choices=[
                    ("waiting", "Waiting"),
                    ("checking", "Checking"),
                    ("delivering", "Delivering"),
                    ("completed", "Completed"),
                    ("ineligible", "Not eligible yet"),
                    ("failed", "Failed"),
                    ("retrying", "Retrying"),
                    ("revoked", "Removed by the organiser"),
                ],
                default="waiting",
                max_length=12,
            ),
        ),
        migrations.AlterField(
            model_name="completionevent",
            name="reason",
            field=models.CharField(
                blank=True,
                choices=[
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
                    ("revoked", "revoked by staff"),
                    ("reissued", "re-issued by staff to a corrected address"),
                    ("granted", "granted by staff"),
                ],
                max_length=20,
            ),
        ),
        migrations.RunPython(add_permission, remove_permission),
    ]
