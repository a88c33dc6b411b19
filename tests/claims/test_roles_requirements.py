"""The staff roles keep working with requirements and jobs (claims 0015): a claims
editor builds a claim with its requirements in the admin, and sees its dry run's job; a
role's group an operator reshaped is left as it is."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse

from claims.models import Claim
from tests.claims.admin_support import make_app, make_member, post_new_claim

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("claims", "0014_claim_jobs")
BEFORE_THE_ROLES = ("claims", "0010_member_values_permission")
ROLE_NAMES = ("Operator", "Claims editor", "Support")


def _migrate(*targets) -> None:
    MigrationExecutor(connection).migrate(list(targets))


def _latest() -> list[tuple[str, str]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def _at_latest() -> bool:
    executor = MigrationExecutor(connection)
    return not executor.migration_plan(executor.loader.graph.leaf_nodes())


def _codenames(name: str) -> set[str]:
    return set(Group.objects.get(name=name).permissions.values_list("codename", flat=True))


@pytest.fixture
def roles():
    """The roles' groups as migrate makes them (a flush in another test may have removed
    them): the migrations run again from before the roles."""
    _migrate(BEFORE_THE_ROLES)
    Group.objects.filter(name__in=ROLE_NAMES).delete()
    _migrate(*_latest())


def test_a_claims_editor_adds_a_claim_with_its_requirements(roles, client, upstreams):
    github = make_app("github", "GitHub")
    editor = make_member("editor", is_staff=True)
    editor.groups.add(Group.objects.get(name="Claims editor"))
    client.force_login(editor)
    response = post_new_claim(client, github, requirement={"text": "A GitHub account"})
    assert response.status_code == 302, response.content[:2000]
    claim = Claim.objects.get(slug="new")
    assert [(r.app.slug, r.text) for r in claim.requirements.all()] == [
        ("github", "A GitHub account")
    ]
    # The claim's page shows its requirements to the editor, and the dry run's job list.
    page = client.get(reverse("admin:claims_claim_change", args=[claim.pk]))
    assert b'name="requirements-0-app"' in page.content
    assert client.get(reverse("admin:claims_claimjob_changelist")).status_code == 200


def test_the_roles_get_the_new_permissions_and_a_reshaped_group_does_not(roles):
    for name in ("Operator", "Claims editor"):
        assert {"add_requirement", "change_requirement", "view_claimjob"} <= _codenames(name)
    assert "view_requirement" in _codenames("Support")
    assert "change_requirement" not in _codenames("Support")
    _migrate(BEFORE)
    try:
        support = Group.objects.get(name="Support")
        support.permissions.remove(Permission.objects.get(codename="change_completion"))
        _migrate(*_latest())
        assert "view_requirement" not in _codenames("Support")
        assert {"add_requirement", "view_claimjob"} <= _codenames("Claims editor")
    finally:
        # The flush after this (transactional) test empties the groups; only the schema
        # must be the latest again, should an assertion above have stopped short of it.
        if not _at_latest():
            _migrate(*_latest())
