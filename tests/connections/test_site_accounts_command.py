"""`manage.py site_accounts`, as an operator runs it, against the sandbox over HTTP."""

import io

import pytest
from django.core.management import CommandError, call_command

from connections.models import SiteAccount
from sandbox.pipedream import services as pd_sandbox

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args) -> str:
    out = io.StringIO()
    call_command("site_accounts", *args, stdout=out)
    return out.getvalue()


def test_with_none_it_says_how_to_connect_one(upstreams):
    assert "manage.py site_accounts --connect github" in run()


def test_connect_prints_the_hosted_page_for_the_sites_user(upstreams, apps):
    said = run("--connect", "github")
    link = next(line for line in said.splitlines() if line.startswith("http"))
    assert "app=github" in link and "token=" in link
    assert "'site'" in said and "--sync" in said
    assert not SiteAccount.objects.exists()  # nothing is recorded before the sync


def test_sync_records_what_pipedream_lists(upstreams, apps):
    _, token = pd_sandbox.connect_token_create(
        project_id="proj_sandbox", environment="development", external_user_id="site"
    )
    upstream = pd_sandbox.account_connect(token=token, app_slug="github", name="bitbadges")
    said = run("--sync")
    assert "1 new" in said and upstream.account_id in said and "healthy" in said
    assert SiteAccount.objects.get().name == "bitbadges"
    assert "0 new, 0 updated, 0 removed" in run("--sync")  # safe to run twice


@pytest.mark.parametrize("app", ["nope", "", "../../etc", "x" * 500])
def test_an_unknown_app_is_a_sentence(upstreams, apps, app):
    with pytest.raises(CommandError, match="No app"):
        run("--connect", app)


def test_sync_and_connect_cannot_be_asked_together(upstreams):
    with pytest.raises(CommandError, match="not allowed with"):
        run("--sync", "--connect", "github")
