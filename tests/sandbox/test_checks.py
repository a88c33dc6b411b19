"""The sandbox's system check: the product must hold the credentials the sandbox accepts."""

import io

import pytest
from django.core import checks
from django.core.management import call_command

from sandbox.credentials import LIST_SETTINGS, SANDBOX_SETTINGS, SANDBOX_WORKFLOW_ENDPOINTS
from sandbox.pipedream.catalogue import WORKFLOWS

CREDENTIALS = [name for name in SANDBOX_SETTINGS if name not in LIST_SETTINGS]


def sandbox_warnings(code: str = "sandbox.W001") -> list[checks.CheckMessage]:
    return [m for m in checks.run_checks(tags=["sandbox"]) if m.id == code]


def test_the_sandboxs_own_credentials_pass_and_check_is_clean():
    assert sandbox_warnings() == []
    assert sandbox_warnings("sandbox.W002") == []
    out, err = io.StringIO(), io.StringIO()
    call_command("check", "--tag", "sandbox", stdout=out, stderr=err)
    assert "sandbox.W00" not in out.getvalue() + err.getvalue()


@pytest.mark.parametrize("name", CREDENTIALS)
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


def test_the_sandboxs_workflow_ids_are_its_catalogues():
    assert sorted(SANDBOX_WORKFLOW_ENDPOINTS) == sorted(WORKFLOWS)


@pytest.mark.parametrize(
    "value",
    [
        list(reversed(SANDBOX_WORKFLOW_ENDPOINTS)),  # another order
        ["en123abc", *SANDBOX_WORKFLOW_ENDPOINTS, "eo-mine"],  # the developer's own as well
        ",".join(SANDBOX_WORKFLOW_ENDPOINTS) + ",en123abc",  # as text, in a test's override
    ],
    ids=["reordered", "more-ids", "text"],
)
def test_a_workflow_list_holding_the_sandboxs_ids_is_not_flagged(settings, value):
    settings.PIPEDREAM_WORKFLOW_ENDPOINTS = value
    assert checks.run_checks(tags=["sandbox"]) == []


@pytest.mark.parametrize(
    ("value", "missing"),
    [
        ([], list(SANDBOX_WORKFLOW_ENDPOINTS)),
        (["en123abc", *SANDBOX_WORKFLOW_ENDPOINTS[1:]], [SANDBOX_WORKFLOW_ENDPOINTS[0]]),
    ],
    ids=["empty", "one-left-out"],
)
def test_a_workflow_list_without_some_sandbox_ids_is_a_warning_naming_them(
    settings, value, missing
):
    settings.PIPEDREAM_WORKFLOW_ENDPOINTS = value
    assert sandbox_warnings() == []  # the credentials are fine
    [warning] = sandbox_warnings("sandbox.W002")
    assert warning.level == checks.WARNING
    assert f"PIPEDREAM_WORKFLOW_ENDPOINTS does not list its workflows {', '.join(missing)}," in (
        warning.msg
    )
    assert "manage.py sandbox_setup" in warning.hint
    err = io.StringIO()
    call_command("check", "--tag", "sandbox", stdout=io.StringIO(), stderr=err)
    assert "sandbox.W002" in err.getvalue()
