"""Reconnecting in place, over HTTP with the sandbox: the iframe passes `accountId`
(documented) and Pipedream refreshes that account; Connect Link and emailed links may
connect a new upstream account instead (link mode's handling of `accountId` is
unconfirmed, and the sandbox ignores it there), so the site keeps one account: the
row stays, names the new Pipedream account, and the old one is deleted upstream."""

import datetime
import html
from urllib.parse import parse_qs, urlsplit

import pytest

from claims.models import TriggerDeployment
from connections import services
from connections.models import ConnectedAccount, ConnectSession
from sandbox.pipedream import services as pd_sandbox
from sandbox.pipedream.models import Account
from tests.connections.views_support import connect_by_link, deliver_webhooks, local
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db(transaction=True)


def page_text(response) -> str:
    return html.unescape(response.content.decode())


@pytest.fixture
def member(django_user_model):
    return verify_email(
        django_user_model.objects.create_user(username="octo", password="pw-12345678")
    )


def broken(account: ConnectedAccount) -> ConnectedAccount:
    """The account's credentials stop working at Pipedream; a sync tells the site."""
    upstream = Account.objects.get(account_id=account.pipedream_id)
    pd_sandbox.account_set_health(upstream, state="unhealthy", error="invalid_grant")
    services.accounts_sync(member=account.member)
    account.refresh_from_db()
    assert account.health == "unhealthy"
    return account


@pytest.fixture
def octo(client, upstreams, apps, worker, member, make_claim):
    """The member's GitHub account `octo`, broken, with a trigger deployment on it."""
    client.force_login(member)
    connect_by_link(client, "/connect/github/", "octo")
    deliver_webhooks(worker)
    account = broken(ConnectedAccount.objects.get(member=member))
    claim = make_claim("stars", apps=[apps["github"]])
    TriggerDeployment.objects.create(
        claim=claim,
        member=member,
        account=account,
        account_pipedream_id=account.pipedream_id,
        pipedream_id="dc_octo",
        status=TriggerDeployment.Status.ACTIVE,
    )
    return account


def test_reconnect_in_the_iframe_refreshes_the_same_account(client, octo, worker):
    minted = client.post("/connect/token/", {"app": "github", "account": octo.pk})
    assert minted.status_code == 200, minted.content
    iframe_url = minted.json()["iframe_url"]
    assert parse_qs(urlsplit(iframe_url).query)["accountId"] == [octo.pipedream_id]

    page = client.post(local(iframe_url), {"action": "allow", "name": "octo"})
    assert page.status_code == 200
    callback = client.post(
        "/connect/callback/",
        {"session": minted.json()["session"], "account": octo.pipedream_id},
    )
    deliver_webhooks(worker)

    assert callback.status_code == 200, callback.content
    [account] = ConnectedAccount.objects.all()
    assert (account.pk, account.pipedream_id) == (octo.pk, octo.pipedream_id)
    assert account.health == "healthy"
    assert Account.objects.count() == 1


@pytest.mark.parametrize("webhook_first", [False, True], ids=["redirect-first", "webhook-first"])
def test_reconnect_through_the_connect_link_leaves_one_account_refreshed(
    client, octo, worker, webhook_first
):
    old_id = octo.pipedream_id

    done = connect_by_link(
        client,
        f"/connect/github/?account={octo.pk}",
        "octo",
        webhook_first=webhook_first,
        worker=worker,
    )
    deliver_webhooks(worker)

    assert "Your GitHub account is connected." in page_text(done)
    [account] = ConnectedAccount.objects.all()
    assert account.pk == octo.pk
    assert account.pipedream_id != old_id
    assert account.health == "healthy" and account.error == ""
    # The duplicate is gone at Pipedream; only the new account is left.
    assert list(Account.objects.values_list("account_id", flat=True)) == [account.pipedream_id]
    assert TriggerDeployment.objects.get().account == account
    session = ConnectSession.objects.get(reconnect_account=account)
    assert session.status == ConnectSession.Status.CONNECTED and session.account == account
    # Later syncs find nothing to change.
    again = services.accounts_sync(member=account.member)
    assert (again.created, again.removed) == ([], [])


def test_reconnect_through_an_emailed_link_leaves_one_account(client, octo, worker, member):
    link = services.emailed_link_make(
        member=member,
        app=octo.app,
        expires=datetime.timedelta(days=1),
        reconnect_account=octo,
    )

    connect_by_link(client, local(link), "octo")
    deliver_webhooks(worker)

    [account] = ConnectedAccount.objects.all()
    assert account.pk == octo.pk and account.health == "healthy"
    assert Account.objects.get().account_id == account.pipedream_id != octo.pipedream_id
    assert ConnectSession.objects.filter(mode=ConnectSession.Mode.EMAILED).get().account == account


def test_two_github_logins_stay_two_accounts(client, octo, worker):
    # The member reconnects by link but signs in to GitHub as someone else.
    connect_by_link(client, f"/connect/github/?account={octo.pk}", "octo-work")
    deliver_webhooks(worker)
    # And connects a third login as a new account.
    connect_by_link(client, "/connect/github/", "hubot")
    deliver_webhooks(worker)

    names = dict(ConnectedAccount.objects.values_list("name", "pipedream_id"))
    assert sorted(names) == ["hubot", "octo", "octo-work"]
    assert names["octo"] == octo.pipedream_id  # the old account is untouched, still broken
    assert ConnectedAccount.objects.get(pk=octo.pk).health == "unhealthy"
    assert Account.objects.count() == 3
    assert TriggerDeployment.objects.get().account_id == octo.pk


def test_a_reconnect_of_another_members_account_is_refused(client, octo, worker, django_user_model):
    intruder = verify_email(
        django_user_model.objects.create_user(username="mallory", password="pw-12345678")
    )
    client.force_login(intruder)
    sessions = ConnectSession.objects.count()

    by_link = client.get(f"/connect/github/?account={octo.pk}")
    by_iframe = client.post("/connect/token/", {"app": "github", "account": octo.pk})
    link = services.emailed_link_make(
        member=intruder, app=octo.app, expires=datetime.timedelta(days=1)
    )
    by_email = client.get(f"{local(link)}?account={octo.pk}")

    assert by_link.status_code == by_iframe.status_code == by_email.status_code == 404
    assert ConnectSession.objects.count() == sessions
    with pytest.raises(ValueError):
        services.emailed_link_make(
            member=intruder,
            app=octo.app,
            expires=datetime.timedelta(days=1),
            reconnect_account=octo,
        )
    # Mallory connecting her own GitHub never touches the member's account.
    connect_by_link(client, "/connect/github/", "octo")
    deliver_webhooks(worker)
    octo_now = ConnectedAccount.objects.get(pk=octo.pk)
    assert (octo_now.member_id, octo_now.pipedream_id) == (octo.member_id, octo.pipedream_id)
    assert ConnectedAccount.objects.filter(member=intruder).count() == 1
