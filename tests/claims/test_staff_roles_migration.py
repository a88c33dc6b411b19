"""The staff roles' migration (claims 0011) and groups someone already has.

A group named like a role before the migration ran is an operator's own: the migration
leaves it as it is, and its reverse does not delete it. The reverse deletes only a role's
group that still holds exactly what the migration gave it.

Each test runs the real migration back and forth with Django's MigrationExecutor, outside
any transaction (SQLite's schema editor refuses to run inside one), and leaves the
database migrated to its latest state with the groups as migrate makes them.
"""

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("claims", "0010_member_values_permission")
ROLE_NAMES = ("Operator", "Claims editor", "Support")


def _migrate(*targets) -> None:
    MigrationExecutor(connection).migrate(list(targets))


def _latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _at_latest() -> bool:
    executor = MigrationExecutor(connection)
    return not executor.migration_plan(executor.loader.graph.leaf_nodes())


def _held(name: str) -> set[str]:
    group = Group.objects.get(name=name)
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


@pytest.fixture
def before_the_roles():
    """The database as it was before claims 0011, with no group of a role's name; after
    the test, migrated to the latest state again with the roles' groups as migrate makes
    them (whatever the test left under those names removed first). A test that ends
    at the latest state has just had migrate make them, and is left as it is."""
    _migrate(BEFORE)
    Group.objects.filter(name__in=ROLE_NAMES).delete()
    yield
    if not _at_latest():
        _migrate(BEFORE)
        Group.objects.filter(name__in=ROLE_NAMES).delete()
        _migrate(*_latest())
    assert set(Group.objects.filter(name__in=ROLE_NAMES).values_list("name", flat=True)) == set(
        ROLE_NAMES
    )


def test_a_group_that_was_there_first_keeps_its_permissions_and_is_not_deleted(
    before_the_roles,
):
    own = Group.objects.create(name="Support")
    own.permissions.set(Permission.objects.filter(codename="view_member_values"))

    _migrate(*_latest())
    assert _held("Support") == {"claims.view_member_values"}  # not the role's
    assert Group.objects.get(name="Support").pk == own.pk
    assert "claims.change_completion" not in _held("Support")
    assert "claims.view_member_values" in _held("Operator")  # the others were made

    _migrate(BEFORE)
    assert _held("Support") == {"claims.view_member_values"}
    assert not Group.objects.filter(name__in=["Operator", "Claims editor"]).exists()


def test_a_role_group_as_the_migration_made_it_is_deleted_by_the_reverse_and_made_again(
    before_the_roles,
):
    _migrate(*_latest())
    made = _held("Claims editor")
    assert {"claims.change_claim", "connections.view_app"} <= made
    # Changed since: the operator's now, and the reverse keeps it.
    Group.objects.get(name="Operator").permissions.remove(
        Permission.objects.get(codename="view_member_values")
    )

    _migrate(BEFORE)
    assert not Group.objects.filter(name__in=["Claims editor", "Support"]).exists()
    assert "claims.view_member_values" not in _held("Operator")

    Group.objects.filter(name="Operator").delete()
    _migrate(*_latest())
    assert _held("Claims editor") == made
    assert "claims.view_member_values" in _held("Operator")
