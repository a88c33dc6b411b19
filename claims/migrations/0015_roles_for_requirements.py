"""The staff roles (0011) given the permissions of the models added since: a claims
editor edits a claim's requirements in the same form as the claim (an inline needs its
model's own permissions), and whoever may dry-run a claim sees the job it becomes.

A role's group is given them only while it still holds every permission 0011 gave it:
a group an operator reshaped is theirs, and is left as it is.
"""

from importlib import import_module

from django.contrib.auth.management import create_permissions
from django.db import migrations

ADDED = {
    "Operator": [
        "add_requirement",
        "change_requirement",
        "delete_requirement",
        "view_requirement",
        "view_claimjob",
    ],
    "Claims editor": [
        "add_requirement",
        "change_requirement",
        "delete_requirement",
        "view_requirement",
        "view_claimjob",
    ],
    "Support": ["view_requirement"],
}


def _roles():
    """The roles as 0011 made them (a module whose name starts with a digit)."""
    return import_module("claims.migrations.0011_staff_roles")


def add_permissions(apps, schema_editor):
    for app_config in apps.get_app_configs():
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = True  # as 0011 does: create_permissions skips otherwise
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    roles = _roles()
    for name, codenames in ADDED.items():
        group = Group.objects.filter(name=name).first()
        if group is None:
            continue
        held = set(group.permissions.values_list("content_type__app_label", "codename"))
        if not roles._wanted(name) <= held:
            continue
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="claims", codename__in=codenames)
        )


def remove_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ADDED.items():
        group = Group.objects.filter(name=name).first()
        if group is not None:
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label="claims", codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [
        ("claims", "0014_claim_jobs"),
    ]

    operations = [migrations.RunPython(add_permissions, remove_permissions)]
