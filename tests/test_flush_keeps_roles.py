"""The suite's flush after a transactional test puts back the staff roles migrate made
(tests/conftest.py): the suite runs in several processes, each taking whole files
(pytest-xdist), so a test that reads a role must not depend on what ran before it."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command


def _roles() -> dict[str, list[tuple[str, str]]]:
    return {
        group.name: sorted(group.permissions.values_list("content_type__app_label", "codename"))
        for group in Group.objects.all()
    }


@pytest.mark.django_db(transaction=True)
def test_a_flush_puts_back_the_roles_as_migrate_made_them():
    made = _roles()
    assert {"Operator", "Claims editor", "Support"} <= set(made)
    assert all(made.values())  # each with its permissions
    Group.objects.create(name="A test's own")  # emptied by the flush, not put back
    for _ in range(2):  # whether the roles are made again or put back from what was kept
        call_command("flush", interactive=False, verbosity=0)
        assert _roles() == made
