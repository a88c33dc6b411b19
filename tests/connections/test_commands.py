"""sync_accounts, sync_apps and connect_link through call_command."""

import io

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from connections import services
from connections.models import App, ConnectedAccount
from tests.connections.services_support import (
    ACCOUNTS_URL,
    API,
    PUBLIC,
    account_data,
    app_data,
    page,
)

pytestmark = pytest.mark.django_db


def run(*args, **options):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), no_color=True, **options)
    return out.getvalue()


# --- sync_accounts ---------------------------------------------------------------------


def test_sync_accounts_needs_a_member_or_all(db):
    with pytest.raises(CommandError, match="--user U.*--all"):
        run("sync_accounts")


def test_sync_accounts_unknown_user(db):
    with pytest.raises(CommandError, match="No member with username or email 'ghost'"):
        run("sync_accounts", "--user", "ghost")


def test_sync_accounts_one_member_by_email(pd, member, github):
    pd.get(ACCOUNTS_URL, json=page([account_data("apn_1", member.external_id)]))
    output = run("sync_accounts", "--user", "ALICE@example.com")
    assert "alice: 1 new" in output and "1 member(s) synced" in output
    assert ConnectedAccount.objects.count() == 1


def test_sync_accounts_all_dry_run(pd, member, github):
    ConnectedAccount.objects.create(member=member, app=github, pipedream_id="apn_old")
    pd.get(ACCOUNTS_URL, json=page([]))
    output = run("sync_accounts", "--all", "--dry-run")
    assert "alice: 0 new, 0 updated, 1 removed" in output and "dry run" in output
    assert ConnectedAccount.objects.count() == 1


def test_sync_accounts_upstream_failure(pd, member, github):
    pd.get(ACCOUNTS_URL, status=503, json={"error": "down"})
    with pytest.raises(CommandError, match="not answering"):
        run("sync_accounts", "--user", "alice")


# --- sync_apps -------------------------------------------------------------------------


def test_sync_apps_refreshes_known_and_enables_named(pd, settings, github):
    settings.SANDBOX = False
    pd.get(f"{API}/v1/connect/apps/github", json={"data": app_data("github", "GitHub 2")})
    pd.get(f"{API}/v1/connect/apps/slack", json={"data": app_data("slack", "Slack")})
    output = run("sync_apps", "--enable", "slack")
    assert "2 app(s)" in output and "enabled slack" in output
    assert App.objects.get(slug="github").name == "GitHub 2"
    assert App.objects.get(slug="slack").enabled is True


def test_sync_apps_pages_the_catalogue_in_sandbox_mode(pd, settings, db):
    settings.SANDBOX = True
    pd.get(
        f"{API}/v1/connect/apps",
        json=page([app_data("github"), app_data("slack")], None),
    )
    run("sync_apps")
    assert set(App.objects.values_list("slug", flat=True)) == {"github", "slack"}
    assert not App.objects.filter(enabled=True).exists()


def test_sync_apps_unknown_slug(pd, settings, db):
    settings.SANDBOX = True
    pd.get(f"{API}/v1/connect/apps", json=page([app_data("github")]))
    with pytest.raises(CommandError, match="no app 'nope'"):
        run("sync_apps", "--enable", "nope")
    with pytest.raises(CommandError, match="Not an app slug"):
        run("sync_apps", "--enable", "a/b")


# --- connect_link ----------------------------------------------------------------------


def test_connect_link_prints_a_working_link(member, github, settings):
    settings.PUBLIC_URL = PUBLIC
    link = run("connect_link", "--user", "alice", "--app", "github", "--expires", "12h").strip()
    assert link.startswith(f"{PUBLIC}/connect/l/")
    signed = link.rstrip("/").rsplit("/", 1)[1]
    assert services.emailed_link_open(signed) == (member, github)


def test_connect_link_emails(member, github):
    output = run("connect_link", "--user", "alice", "--app", "github", "--email")
    assert "Emailed the link to alice@example.com" in output
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["alice@example.com"]
    assert "/connect/l/" in mail.outbox[0].body
    # The default, and the longest: CONNECT_EMAILED_LINK_HOURS (72).
    assert "It works once, for 3d." in mail.outbox[0].body


@pytest.mark.parametrize(
    "args, message",
    [
        (["--user", "ghost", "--app", "github"], "No member"),
        (["--user", "alice", "--app", "nope"], "No app 'nope'"),
        (["--user", "alice", "--app", "slack"], "Slack is not enabled"),
        (["--user", "alice", "--app", "github", "--expires", "soon"], "30m, 12h or 7d"),
        (["--user", "alice", "--app", "github", "--expires", "73h"], "at most 3d"),
        (["--user", "alice", "--app", "github", "--expires", "0m"], "longer than zero"),
        (["--user", "noemail", "--app", "github", "--email"], "no email address"),
    ],
)
def test_connect_link_errors(member, github, django_user_model, args, message):
    App.objects.create(slug="slack", name="Slack", enabled=False)
    django_user_model.objects.create_user(username="noemail", password="x")
    with pytest.raises(CommandError, match=message):
        run("connect_link", *args)


def test_connect_link_can_reconnect_one_of_their_accounts(member, github, settings):
    settings.PUBLIC_URL = PUBLIC
    account = ConnectedAccount.objects.create(member=member, app=github, pipedream_id="apn_old")
    for given in ("apn_old", str(account.pk)):
        output = run(
            "connect_link", "--user", "alice", "--app", "github", "--account", given, "--email"
        )
        link = output.strip().splitlines()[-1]
        assert "?" not in link and "apn_old" not in link  # the account is inside, sealed
        signed = link.rstrip("/").rsplit("/", 1)[1]
        assert services.emailed_link_read(signed).reconnect_pk == account.pk
    assert "reconnect your GitHub account" in mail.outbox[-1].body
    assert mail.outbox[-1].subject == "Reconnect your GitHub account"


@pytest.mark.parametrize("given", ["apn_nope", "999999", "", "' OR 1=1 --", "9" * 40])
def test_connect_link_refuses_an_account_that_is_not_theirs(
    member, github, django_user_model, given
):
    bob = django_user_model.objects.create_user(username="bob", password="x")
    ConnectedAccount.objects.create(member=bob, app=github, pipedream_id="apn_bobs")
    ConnectedAccount.objects.create(member=member, app=github, pipedream_id="apn_mine", name="al")
    with pytest.raises(CommandError, match="alice has no GitHub account") as raised:
        run("connect_link", "--user", "alice", "--app", "github", "--account", given)
    assert "apn_mine (al)" in str(raised.value) and "apn_bobs" not in str(raised.value)
    with pytest.raises(CommandError, match="alice has no GitHub account"):
        run("connect_link", "--user", "alice", "--app", "github", "--account", "apn_bobs")
