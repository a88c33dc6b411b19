"""Staff roles as Groups, each with the least its work needs (README: "Staff roles").

Permissions are made by a post_migrate signal, after every migration has run: on a fresh
database none exist yet here, so they are created first, for every app, the way that
signal would (create_permissions, idempotent).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Codenames by app label. Changing users is in no role: it edits a user's groups,
# permissions and superuser flag, so it stays with superusers.
ROLES = {
    # Runs the site: claims, the ledger (Retry is change_completion), the delivery
    # pause, triggers, apps (Sync is change_app), members' and the site's accounts
    # (Sync is change, Disconnect is delete, Connect for the site is add), webhooks
    # (Replay is view), and the values criteria read on members' accounts.
    "Operator": {
        "claims": [
            "add_claim",
            "change_claim",
            "delete_claim",
            "view_claim",
            "view_member_values",
            "view_claimrulechange",
            "view_completion",
            "change_completion",
            "view_completionevent",
            "view_deliverypause",
            "view_triggerdeployment",
            "view_triggerdelivery",
        ],
        "connections": [
            "view_app",
            "change_app",
            "view_connectedaccount",
            "change_connectedaccount",
            "delete_connectedaccount",
            "view_siteaccount",
            "add_siteaccount",
            "change_siteaccount",
            "delete_siteaccount",
            "view_replacedaccount",
            "view_connectsession",
            "view_webhookevent",
        ],
        "users": ["view_user"],
    },
    # Writes claims: their rules and the apps they require; sees how they do.
    "Claims editor": {
        "claims": [
            "add_claim",
            "change_claim",
            "view_claim",
            "view_claimrulechange",
            "view_completion",
            "view_completionevent",
        ],
        "connections": ["view_app"],
    },
    # Helps members: sees them, their accounts and completions, retries a completion.
    # Not members' values: a member reads their own on their claim's page, and support
    # would otherwise see every member's.
    "Support": {
        "claims": [
            "view_claim",
            "view_completion",
            "change_completion",
            "view_completionevent",
            "view_triggerdeployment",
        ],
        "connections": ["view_app", "view_connectedaccount"],
        "users": ["view_user"],
    },
}


def _wanted(name):
    """(app label, codename) of each permission the role `name` is given."""
    return {(label, codename) for label, names in ROLES[name].items() for codename in names}


def _role_permissions(Permission, name):
    """The permissions the role `name` is given, as Permission rows of the migration state."""
    by_app = ROLES[name]
    wanted = _wanted(name)
    found = list(
        Permission.objects.filter(
            content_type__app_label__in=by_app, codename__in=[c for _, c in wanted]
        ).select_related("content_type")
    )
    chosen = [p for p in found if (p.content_type.app_label, p.codename) in wanted]
    missing = set(wanted) - {(p.content_type.app_label, p.codename) for p in chosen}
    if missing:
        raise RuntimeError(f"Permissions missing for the role {name}: {sorted(missing)}")
    return chosen


def create_roles(apps, schema_editor):
    """Each role's group, unless a group of that name exists already: an operator's own
    group is left exactly as it is, permissions and members."""
    for app_config in apps.get_app_configs():
        # create_permissions skips an app without a models module, as the migration
        # state's apps all are: lend it one for the call.
        models_module = getattr(app_config, "models_module", None)
        app_config.models_module = True
        try:
            create_permissions(app_config, apps=apps, verbosity=0)
        finally:
            app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name in ROLES:
        if Group.objects.filter(name=name).exists():
            continue
        Group.objects.create(name=name).permissions.set(_role_permissions(Permission, name))


def remove_roles(apps, schema_editor):
    """Delete a role's group only while its permissions are still exactly the ones
    create_roles gave it: a group someone made or changed is theirs, and stays."""
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name__in=ROLES):
        held = set(group.permissions.values_list("content_type__app_label", "codename"))
        if held == _wanted(group.name):
            group.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("claims", "0010_member_values_permission"),
        ("connections", "0005_app_connect"),
        ("users", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
