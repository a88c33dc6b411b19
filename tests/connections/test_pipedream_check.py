"""`manage.py pipedream_check`: each step printed, the failing one named, secrets kept."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import responses
from django.core.management import CommandError, call_command

from tests.connections.pipedream_support import (
    CTOK,
    OAUTH_TOKEN,
    app_body,
    connect_token_body,
    oauth_body,
)

API = "https://pd.example.test"
PROJECT = "proj_check1"
SECRET = "the-client-secret-that-must-never-print"
OAUTH_URL = f"{API}/v1/oauth/token"
APP_URL = f"{API}/v1/connect/apps/github"
TOKENS_URL = f"{API}/v1/connect/{PROJECT}/tokens"
VALIDATE_URL = f"{API}/v1/connect/tokens/{CTOK}/validate"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def pipedream_settings(settings):
    settings.PIPEDREAM_API_URL = API
    settings.PIPEDREAM_CLIENT_ID = "client-id-1"
    settings.PIPEDREAM_CLIENT_SECRET = SECRET
    settings.PIPEDREAM_PROJECT_ID = PROJECT
    settings.PIPEDREAM_PROJECT_ENVIRONMENT = "development"
    settings.PIPEDREAM_MAX_RETRIES = 0
    return settings


def run(*args) -> tuple[str, Exception | None]:
    out = io.StringIO()
    try:
        call_command("pipedream_check", *args, stdout=out, no_color=True)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def happy_path(rsps, validation=None):
    rsps.post(OAUTH_URL, json=oauth_body())
    rsps.get(APP_URL, json={"data": app_body()})
    rsps.post(TOKENS_URL, json=connect_token_body())
    rsps.get(
        VALIDATE_URL,
        json=validation or {"success": True, "error": None, "project_environment": "development"},
    )


@responses.activate
def test_every_step_passes_and_prints_a_connect_link():
    happy_path(responses)
    output, error = run("--app", "github")
    assert error is None
    for step in ("Settings", "OAuth token", "App", "Connect token", "Validate token"):
        assert step in output
    assert output.count(" ok ") == 5
    assert f"{CTOK}&connectLink=true&app=github" in output  # the working link, in full
    assert "All 5 steps passed." in output
    # The OAuth token and the secret never appear; the Connect token only inside the link.
    assert SECRET not in output
    assert OAUTH_TOKEN not in output
    assert output.count(CTOK) == 1
    assert "ctok…cdef" in output


@responses.activate
def test_show_tokens_prints_them_in_full():
    happy_path(responses)
    output, error = run("--show-tokens")
    assert error is None
    assert OAUTH_TOKEN in output
    assert output.count(CTOK) == 2
    assert SECRET not in output


@responses.activate
def test_user_option_mints_for_that_member(member):
    happy_path(responses)
    output, error = run("--user", "alice@example.com")
    assert error is None
    minted = [c for c in responses.calls if c.request.url == TOKENS_URL][0]
    assert str(member.external_id).encode() in minted.request.body
    assert f"alice (external ID {member.external_id})" in output


@responses.activate
def test_wrong_secret_names_the_oauth_step_and_401():
    responses.post(OAUTH_URL, status=401, json={"error": "invalid client credentials"})
    output, error = run()
    assert error is not None
    assert "Step 2 of 5 (OAuth token) failed" in str(error)
    assert "401" in str(error)
    assert "invalid client credentials" in str(error)
    assert "FAILED" in output
    assert SECRET not in output + str(error)
    assert len(responses.calls) == 1  # no Connect token was minted


@responses.activate
def test_unknown_app_names_the_app_step():
    responses.post(OAUTH_URL, json=oauth_body())
    responses.get(f"{API}/v1/connect/apps/githubb", status=404, json={"error": "record not found"})
    _, error = run("--app", "githubb")
    assert "Step 3 of 5 (App) failed" in str(error)
    assert "404" in str(error)


@responses.activate
def test_a_token_that_does_not_validate_fails_the_last_step():
    happy_path(
        responses,
        validation={"success": False, "error": "App not found. Please check your app id."},
    )
    _, error = run()
    assert "Step 5 of 5 (Validate token) failed" in str(error)
    assert "App not found" in str(error)


@responses.activate
def test_upstream_outage_names_the_step():
    responses.post(OAUTH_URL, json=oauth_body())
    responses.get(APP_URL, json={"data": app_body()})
    responses.post(TOKENS_URL, status=503, json={"error": "upstream down"})
    _, error = run()
    assert "Step 4 of 5 (Connect token) failed" in str(error)
    assert "503" in str(error)


def test_missing_setting_is_named(pipedream_settings):
    pipedream_settings.PIPEDREAM_CLIENT_SECRET = ""
    _, error = run()
    assert "Step 1 of 5 (Settings) failed" in str(error)
    assert "PIPEDREAM_CLIENT_SECRET" in str(error)


@pytest.mark.parametrize("app", ["", "git hub", "github/../x", "a" * 101, "x&token=1"])
def test_malformed_app_slug_is_refused_before_any_request(app):
    with responses.RequestsMock() as rsps:  # any request would fail the test
        _, error = run("--app", app)
        assert len(rsps.calls) == 0
    assert "--app must be an app slug" in str(error)


def test_unknown_member_is_refused():
    _, error = run("--user", "nobody")
    assert str(error) == "No member has the username 'nobody'."


def test_exit_code_and_no_traceback_from_the_shell(tmp_path):
    """As an operator runs it: an unreachable Pipedream exits non-zero with one sentence."""
    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "ENV_FILE": "",
        "DEBUG": "true",
        "SANDBOX": "false",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PIPEDREAM_API_URL": "http://127.0.0.1:9",  # discard port: connection refused
        "PIPEDREAM_CLIENT_ID": "id",
        "PIPEDREAM_CLIENT_SECRET": SECRET,
        "PIPEDREAM_PROJECT_ID": PROJECT,
        "PIPEDREAM_MAX_RETRIES": "0",
        "PIPEDREAM_TIMEOUT": "2",
    }
    result = subprocess.run(
        [sys.executable, str(root / "manage.py"), "pipedream_check", "--no-color"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Step 2 of 5 (OAuth token) failed" in result.stderr
    assert "Traceback" not in result.stderr
    assert SECRET not in result.stdout + result.stderr


@responses.activate
def test_runs_the_steps_once():
    """As from the shell: Django's system checks run first and must not run the steps."""
    happy_path(responses)
    out = io.StringIO()
    call_command("pipedream_check", stdout=out, no_color=True, skip_checks=False)
    output = out.getvalue()
    assert output.count("All 5 steps passed.") == 1
    assert len([c for c in responses.calls if c.request.url == TOKENS_URL]) == 1


@pytest.mark.parametrize(
    ("environment", "public_url", "says"),
    [
        ("development", "https://claims.example.com", "Warning: PIPEDREAM_PROJECT_ENVIRONMENT"),
        ("development", "http://127.0.0.1:8000", "Note: In Pipedream's development"),
        ("production", "https://claims.example.com", None),
    ],
)
@responses.activate
def test_development_is_explained_and_warned_of_on_a_public_url(
    settings, environment, public_url, says
):
    settings.PIPEDREAM_PROJECT_ENVIRONMENT = environment
    settings.PUBLIC_URL = public_url
    happy_path(responses)

    output, error = run()

    assert error is None
    header = output.split("[1/5]")[0]
    if says is None:
        assert "pipedream.com" not in header
    else:
        assert says in header
        assert "signed in to pipedream.com in the same browser" in header
        assert "at most 10 members" in header
    assert ("on a public URL" in header) == (public_url.startswith("https") and bool(says))
