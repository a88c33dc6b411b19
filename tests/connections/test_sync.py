"""accounts_sync and the health poll: every page, upserts, removals, dry runs, signals."""

import pytest
from responses import matchers

from connections import services, tasks
from connections.models import App, ConnectedAccount
from tests.connections.services_support import ACCOUNTS_URL, account_data, page

pytestmark = pytest.mark.django_db


def pages(pd, member, *batches):
    """Answer the account list with `batches`, one page each, linked by cursors."""
    for n, batch in enumerate(batches):
        params = {"external_user_id": str(member.external_id)}
        if n:
            params["after"] = f"cursor-{n}"
        cursor = f"cursor-{n + 1}" if n + 1 < len(batches) else None
        pd.get(
            ACCOUNTS_URL,
            json=page(batch, cursor),
            match=[matchers.query_param_matcher(params)],
        )


def test_sync_follows_pages_and_upserts(
    pd, member, github, received, django_capture_on_commit_callbacks
):
    ext = member.external_id
    pages(
        pd,
        member,
        [account_data("apn_1", ext), account_data("apn_2", ext, app="slack")],
        [account_data("apn_3", ext)],
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = services.accounts_sync(member=member)
    assert sorted(result.created) == ["apn_1", "apn_2", "apn_3"]
    assert result.removed == [] and result.updated == []
    assert ConnectedAccount.objects.filter(member=member).count() == 3
    assert App.objects.get(slug="slack").enabled is False
    assert sorted(kw["account"].pipedream_id for n, kw in received) == ["apn_1", "apn_2", "apn_3"]
    assert all(n == "account_connected" and kw["created"] for n, kw in received)


def test_sync_removes_gone_and_signals_health(
    pd, member, github, received, django_capture_on_commit_callbacks
):
    ConnectedAccount.objects.create(member=member, app=github, pipedream_id="apn_gone")
    ConnectedAccount.objects.create(
        member=member, app=github, pipedream_id="apn_kept", name="octocat"
    )
    pages(pd, member, [account_data("apn_kept", member.external_id, dead=True, healthy=False)])
    with django_capture_on_commit_callbacks(execute=True):
        result = services.accounts_sync(member=member)
    assert result.removed == ["apn_gone"]
    assert result.health_changed == ["apn_kept"] and result.updated == ["apn_kept"]
    assert list(ConnectedAccount.objects.values_list("pipedream_id", flat=True)) == ["apn_kept"]
    assert ConnectedAccount.objects.get().health == "dead"
    names = sorted(n for n, _ in received)
    assert names == ["account_disconnected", "account_health_changed"]
    gone = next(kw for n, kw in received if n == "account_disconnected")
    assert gone == {"member": member, "app_slug": "github", "pipedream_id": "apn_gone"}


def test_dry_run_writes_and_signals_nothing(
    pd, member, github, received, django_capture_on_commit_callbacks
):
    ConnectedAccount.objects.create(member=member, app=github, pipedream_id="apn_gone")
    pages(pd, member, [account_data("apn_new", member.external_id, app="notion")])
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = services.accounts_sync(member=member, dry_run=True)
    assert result.created == ["apn_new"] and result.removed == ["apn_gone"]
    assert list(ConnectedAccount.objects.values_list("pipedream_id", flat=True)) == ["apn_gone"]
    assert not App.objects.filter(slug="notion").exists()
    assert callbacks == [] and received == []


def test_sync_never_takes_someone_elses_account(pd, member, github, django_user_model):
    bob = django_user_model.objects.create_user(username="bob", password="x")
    ConnectedAccount.objects.create(member=bob, app=github, pipedream_id="apn_bob")
    pages(
        pd,
        member,
        [account_data("apn_bob", member.external_id), account_data("apn_x", "other-user")],
    )
    result = services.accounts_sync(member=member)
    assert sorted(result.skipped) == ["apn_bob", "apn_x"] and result.created == []
    assert ConnectedAccount.objects.get().member == bob


def test_sync_upstream_failure_changes_nothing(pd, member, github):
    ConnectedAccount.objects.create(member=member, app=github, pipedream_id="apn_1")
    pd.get(ACCOUNTS_URL, status=500, json={"error": "boom"})
    with pytest.raises(services.UpstreamError):
        services.accounts_sync(member=member)
    assert ConnectedAccount.objects.count() == 1


def test_health_poll_syncs_members_with_accounts(pd, member, github, django_user_model):
    django_user_model.objects.create_user(username="nobody", password="x")
    ConnectedAccount.objects.create(member=member, app=github, pipedream_id="apn_1")
    pages(pd, member, [account_data("apn_1", member.external_id, healthy=False)])
    totals = tasks.accounts_health_poll.call()
    assert totals["members"] == 1 and totals["health_changed"] == 1 and totals["failed"] == 0
    assert ConnectedAccount.objects.get().health == "unhealthy"


def test_expired_sessions_are_marked(member, github):
    import datetime

    from connections.models import ConnectSession
    from tests.connections.services_support import make_session

    old = make_session(member, github)
    ConnectSession.objects.filter(pk=old.pk).update(
        expires_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    )
    fresh = make_session(member, github, token="ctok_" + "9" * 32)
    assert services.connect_sessions_expire() == 1
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert old.status == "expired" and fresh.status == "issued"


@pytest.mark.django_db(transaction=True)
def test_sync_through_the_sandbox(live_server, settings, member, received):
    """Accounts made on the hosted page appear; one deleted at Pipedream goes away."""
    import requests
    from django.core.management import call_command

    from connections import pipedream
    from sandbox.pipedream.models import Account

    settings.PUBLIC_URL = live_server.url
    settings.PIPEDREAM_API_URL = f"{live_server.url}/sandbox/pipedream"
    settings.PIPEDREAM_CONNECT_URL = f"{live_server.url}/sandbox/pipedream"
    settings.SANDBOX_FAULTS = {}
    client = pipedream.get_client()
    for name in ("octo-1", "octo-2", "octo-3"):
        token = client.create_connect_token(external_user_id=str(member.external_id))
        link = pipedream.connect_link_url(token.connect_link_url, app="github")
        answer = requests.post(link, data={"action": "allow", "name": name}, timeout=10)
        assert answer.status_code == 200, answer.text[:300]
    result = services.accounts_sync(member=member)
    assert len(result.created) == 3
    assert sorted(a.name for a in ConnectedAccount.objects.all()) == ["octo-1", "octo-2", "octo-3"]
    gone = Account.objects.get(name="octo-2")
    gone.delete()
    Account.objects.filter(name="octo-3").update(healthy=False, error="token_expired")
    tasks.accounts_health_poll.enqueue()
    call_command("db_worker", "--batch", "--no-startup-delay", verbosity=0)
    accounts = {a.name: a for a in ConnectedAccount.objects.all()}
    assert sorted(accounts) == ["octo-1", "octo-3"]
    assert accounts["octo-3"].health == "unhealthy" and accounts["octo-3"].error == "token_expired"
    names = [n for n, _ in received]
    assert names.count("account_connected") == 3
    assert "account_disconnected" in names and "account_health_changed" in names
