"""A reconnect through the Connect Link made a second upstream account, and Pipedream
would not delete the one it replaced: the site keeps one account all the same, no sync
records the old one as a second account, and the health poll deletes it later."""

from urllib.parse import urlsplit

import pytest

from connections import services
from connections.models import ConnectedAccount, ReplacedAccount
from connections.tasks import accounts_health_poll
from sandbox.common.models import Fault
from sandbox.pipedream import services as pd_sandbox
from sandbox.pipedream import webhooks as sandbox_webhooks
from sandbox.pipedream.models import Account
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def member(django_user_model):
    return verify_email(
        django_user_model.objects.create_user(username="octo", password="pw-12345678")
    )


def relative(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def test_a_replaced_account_pipedream_kept_is_never_a_second_account(
    client, upstreams, apps, worker, member
):
    client.force_login(member)
    first = client.get("/connect/github/")
    client.post(relative(first["Location"]), {"action": "allow", "name": "octo"})
    sandbox_webhooks.wait_for_deliveries()
    worker()
    old = ConnectedAccount.objects.get(member=member)
    pd_sandbox.account_set_health(
        Account.objects.get(account_id=old.pipedream_id), state="unhealthy", error="invalid_grant"
    )
    services.accounts_sync(member=member)

    # Pipedream refuses deletions for a while.
    fault = Fault.objects.create(endpoint="pipedream.accounts.delete", status=503)
    hand_off = client.get(f"/connect/github/?account={old.pk}")
    answer = client.post(relative(hand_off["Location"]), {"action": "allow", "name": "octo"})
    client.get(relative(answer["Location"]), follow=True)
    sandbox_webhooks.wait_for_deliveries()
    worker()

    [account] = ConnectedAccount.objects.filter(member=member)
    assert account.pk == old.pk and account.pipedream_id != old.pipedream_id
    kept = ReplacedAccount.objects.get()
    assert kept.pipedream_id == old.pipedream_id and "503" in kept.error
    assert Account.objects.filter(account_id=old.pipedream_id).exists()  # still upstream

    # A sync sees both upstream, and records no second account.
    again = services.accounts_sync(member=member)
    assert again.created == [] and old.pipedream_id in again.skipped
    assert ConnectedAccount.objects.filter(member=member).count() == 1

    # While Pipedream still refuses, the poll counts the attempt; then it deletes it.
    accounts_health_poll.call()
    assert ReplacedAccount.objects.get().attempts == 2
    fault.delete()
    totals = accounts_health_poll.call()
    assert totals["replaced_deleted"] == 1
    assert not ReplacedAccount.objects.exists()
    assert not Account.objects.filter(account_id=old.pipedream_id).exists()
    assert ConnectedAccount.objects.filter(member=member).count() == 1


def test_a_late_record_of_the_replaced_account_is_refused(upstreams, apps, member):
    _, token = pd_sandbox.connect_token_create(
        project_id="proj_sandbox",
        environment="development",
        external_user_id=str(member.external_id),
    )
    upstream = pd_sandbox.account_connect(token=token, app_slug="github", name="octo")
    ReplacedAccount.objects.create(member=member, pipedream_id=upstream.account_id, error="503")
    with pytest.raises(services.ForeignAccount, match="replaced when you reconnected"):
        services.account_record(member=member, pipedream_id=upstream.account_id)
    assert not ConnectedAccount.objects.exists()


def test_the_scheduler_command_deletes_replaced_accounts_and_reads_the_sites(
    upstreams, apps, member
):
    import io

    from django.core.management import call_command

    _, token = pd_sandbox.connect_token_create(
        project_id="proj_sandbox",
        environment="development",
        external_user_id=str(member.external_id),
    )
    upstream = pd_sandbox.account_connect(token=token, app_slug="github", name="octo")
    ReplacedAccount.objects.create(member=member, pipedream_id=upstream.account_id, error="503")
    _, site_token = pd_sandbox.connect_token_create(
        project_id="proj_sandbox", environment="development", external_user_id="site"
    )
    pd_sandbox.account_connect(token=site_token, app_slug="github", name="bitbadges")
    out = io.StringIO()
    call_command("sync_accounts", "--all", stdout=out)  # what the README's scheduler runs
    said = out.getvalue()
    assert "1 account(s) replaced by a reconnect deleted at Pipedream" in said
    assert "The site's own accounts of 1 app(s) changed" in said
    assert not ReplacedAccount.objects.exists()
    assert not Account.objects.filter(account_id=upstream.account_id).exists()
