"""The sandbox's system check: the product must hold the credentials the sandbox accepts."""

import io

import pytest
from django.core import checks
from django.core.management import call_command

from sandbox.credentials import SANDBOX_SETTINGS


def sandbox_warnings() -> list[checks.CheckMessage]:
    return [m for m in checks.run_checks(tags=["sandbox"]) if m.id == "sandbox.W001"]


def test_the_sandboxs_own_credentials_pass_and_check_is_clean():
    assert sandbox_warnings() == []
    out, err = io.StringIO(), io.StringIO()
    call_command("check", "--tag", "sandbox", stdout=out, stderr=err)
    assert "sandbox.W001" not in out.getvalue() + err.getvalue()


@pytest.mark.parametrize("name", list(SANDBOX_SETTINGS))
def test_a_credential_that_is_not_the_sandboxs_is_a_warning(settings, name):
    setattr(settings, name, "someone-elses")
    [warning] = sandbox_warnings()
    assert warning.level == checks.WARNING
    assert f"but {name} is not the sandbox's" in warning.msg
    assert "manage.py sandbox_setup" in warning.hint


def test_missing_credentials_are_named_together(settings):
    settings.PIPEDREAM_CLIENT_ID = ""
    settings.BITBADGES_API_KEY = ""
    [warning] = sandbox_warnings()
    assert "PIPEDREAM_CLIENT_ID, BITBADGES_API_KEY are not the sandbox's" in warning.msg
    err = io.StringIO()
    call_command("check", "--tag", "sandbox", stdout=io.StringIO(), stderr=err)
    assert "sandbox.W001" in err.getvalue()
