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
