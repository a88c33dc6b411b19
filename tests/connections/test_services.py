"""connections.services against a Pipedream answered by `responses`.

The helpers (settings, payloads) are in services_support.py and the fixtures they feed
(`pd` in tests/conftest.py, `github` and `received` in tests/connections/conftest.py)
are shared with the other connections tests and the users tests.
"""

import datetime
import hashlib
import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine

from connections import references, selectors, services
from connections.models import App, ConnectedAccount, ConnectSession
from connections.pipedream import ConnectToken
from tests.connections.services_support import (
    ACCOUNTS_URL,
    CTOK,
    PUBLIC,
    TOKENS_URL,
    account_data,
    make_session,
    token_body,
)
from tests.members_support import verify_email

pytestmark = pytest.mark.django_db


# --- connect_session_start -------------------------------------------------------------


def test_start_mints_with_our_uris_and_stores_only_a_digest(pd, member, github, caplog):
    caplog.set_level(logging.DEBUG)
    pd.post(TOKENS_URL, json=token_body())
    session, token = services.connect_session_start(member=member, app=github, mode="iframe")
    assert token.token == CTOK
    assert session.token_digest == hashlib.sha256(CTOK.encode()).hexdigest()
    assert session.status == "issued" and session.mode == "iframe"
    sent = json.loads(pd.calls[-1].request.body)
    assert sent["external_user_id"] == str(member.external_id)
    assert sent["allowed_origins"] == [PUBLIC]
    reference = services.session_reference(session)
    for key, result in (("success_redirect_uri", "success"), ("error_redirect_uri", "error")):
        parts = urlsplit(sent[key])
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{PUBLIC}/connect/done/"
        query = parse_qs(parts.query)
        assert query["result"] == [result]
        assert services.connect_session_for_reference(query["s"][0]) == session
    hook = urlsplit(sent["webhook_uri"])
    assert hook.path == "/connect/webhook/"
    assert services.connect_session_for_reference(parse_qs(hook.query)["s"][0]) == session
    assert services.connect_session_for_reference(reference) == session
    # The token is never stored or logged.
    row = ConnectSession.objects.values().get(pk=session.pk)
    assert CTOK not in repr(row)
    assert CTOK not in caplog.text


def test_start_writes_nothing_when_pipedream_fails(pd, member, github):
    pd.post(TOKENS_URL, status=503, json={"error": "down"})
    with pytest.raises(services.UpstreamError) as info:
        services.connect_session_start(member=member, app=github, mode="link")
    assert str(info.value).startswith("Pipedream is not answering right now. Nothing was changed")
    assert info.value.cause.status == 503
    assert not ConnectSession.objects.exists()


def test_start_rate_limited_by_pipedream_says_when(pd, member, github):
    pd.post(TOKENS_URL, status=429, json={"error": "Throttled"}, headers={"Retry-After": "40"})
    with pytest.raises(services.UpstreamError, match="busy right now.*40 seconds"):
        services.connect_session_start(member=member, app=github, mode="link")
    assert not ConnectSession.objects.exists()


def test_start_refuses_a_disabled_app(pd, member):
    app = App.objects.create(slug="slack", name="Slack", enabled=False)
    with pytest.raises(services.AppNotAvailable, match="not available"):
        services.connect_session_start(member=member, app=app, mode="iframe")
    assert not pd.calls


def test_start_rate_limit_per_member(pd, member, github, settings, django_user_model):
    settings.CONNECT_TOKEN_RATE_LIMIT = (3, 60)
    pd.post(TOKENS_URL, json=token_body())
    pd.post(TOKENS_URL, json=token_body("ctok_" + "1" * 32))
    pd.post(TOKENS_URL, json=token_body("ctok_" + "2" * 32))
    for _ in range(3):
        services.connect_session_start(member=member, app=github, mode="iframe")
    with pytest.raises(services.TooManyAttempts) as info:
        services.connect_session_start(member=member, app=github, mode="iframe")
    assert 1 <= info.value.retry_after <= 61
    assert "Try again in" in str(info.value)
    assert ConnectSession.objects.count() == 3
    # Another member is not affected.
    bob = verify_email(django_user_model.objects.create_user(username="bob", password="x"))
    pd.post(TOKENS_URL, json=token_body("ctok_" + "3" * 32))
    services.connect_session_start(member=bob, app=github, mode="iframe")


def test_reconnect_account_must_be_the_members(pd, member, github, django_user_model):
    bob = django_user_model.objects.create_user(username="bob", password="x")
    bobs = ConnectedAccount.objects.create(member=bob, app=github, pipedream_id="apn_bob")
    with pytest.raises(services.AppNotAvailable):
        services.connect_session_start(
            member=member, app=github, mode="link", reconnect_account=bobs
        )


def test_link_and_iframe_urls(github, settings):
    settings.PIPEDREAM_CONNECT_URL = "https://pipedream.test"
    token = ConnectToken(
        token=CTOK,
        expires_at=datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC),
        connect_link_url=f"https://pipedream.test/_static/connect.html?token={CTOK}&connectLink=true",
    )
    github.oauth_app_id = "oa_123"
    account = ConnectedAccount(pipedream_id="apn_x")
    link = services.connect_link_for(token=token, app=github, reconnect_account=account)
    query = parse_qs(urlsplit(link).query)
    assert query == {
        "token": [CTOK],
        "connectLink": ["true"],
        "app": ["github"],
        "oauthAppId": ["oa_123"],
        "accountId": ["apn_x"],
    }
    frame = services.iframe_url_for(token=token, app=github)
    assert frame.startswith("https://")
    parts = urlsplit(frame)
    assert parts.path == "/_static/connect.html"
    assert parse_qs(parts.query) == {"token": [CTOK], "app": ["github"], "oauthAppId": ["oa_123"]}


def test_references_refuse_tampering_and_age(member, github):
    session = make_session(member, github)
    reference = services.session_reference(session)
    assert services.connect_session_for_reference(reference) == session
    assert services.connect_session_for_reference(reference[:-1] + "x") is None
    assert services.connect_session_for_reference("") is None
    assert services.connect_session_for_reference("garbage") is None
    with time_machine.travel(datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=8)):
        assert services.connect_session_for_reference(reference) is None


def test_session_fail_only_from_issued(member, github):
    session = make_session(member, github)
    services.connect_session_fail(session=session, error="denied")
    session.refresh_from_db()
    assert session.status == "failed" and session.error == "denied"
    services.connect_session_fail(session=session, error="again")
    session.refresh_from_db()
    assert session.error == "denied"


# --- account_record --------------------------------------------------------------------


def test_record_fetches_checks_and_signals(
    pd, member, github, received, django_capture_on_commit_callbacks
):
    session = make_session(member, github)
    pd.get(f"{ACCOUNTS_URL}/apn_abc123", json=account_data(external_id=member.external_id))
    with django_capture_on_commit_callbacks(execute=True):
        account = services.account_record(member=member, pipedream_id="apn_abc123", session=session)
    assert account.member == member and account.app == github
    assert account.name == "octocat" and account.healthy and not account.dead
    assert account.upstream_created_at.year == 2025 and account.last_synced_at
    session.refresh_from_db()
    assert session.status == "connected" and session.account == account and session.completed_at
    assert received == [
        (
            "account_connected",
            {"account": account, "member": member, "created": True, "session": session},
        )
    ]


def test_record_is_idempotent(pd, member, github, received, django_capture_on_commit_callbacks):
    session = make_session(member, github)
    pd.get(f"{ACCOUNTS_URL}/apn_abc123", json=account_data(external_id=member.external_id))
    with django_capture_on_commit_callbacks(execute=True):
        services.account_record(member=member, pipedream_id="apn_abc123", session=session)
        services.account_record(member=member, pipedream_id="apn_abc123", session=session)
        services.account_record(member=member, pipedream_id="apn_abc123")
    assert ConnectedAccount.objects.count() == 1
    assert [kw["created"] for name, kw in received if name == "account_connected"] == [True]


def test_record_refuses_another_external_user(pd, member, github, received):
    session = make_session(member, github)
    pd.get(f"{ACCOUNTS_URL}/apn_abc123", json=account_data(external_id="someone-else"))
    with pytest.raises(services.ForeignAccount, match="someone else"):
        services.account_record(member=member, pipedream_id="apn_abc123", session=session)
    assert not ConnectedAccount.objects.exists()
    session.refresh_from_db()
    assert session.status == "issued"
    assert received == []


def test_record_refuses_an_id_another_member_holds(pd, member, github, django_user_model):
    bob = django_user_model.objects.create_user(username="bob", password="x")
    ConnectedAccount.objects.create(member=bob, app=github, pipedream_id="apn_abc123")
    pd.get(f"{ACCOUNTS_URL}/apn_abc123", json=account_data(external_id=member.external_id))
    with pytest.raises(services.ForeignAccount):
        services.account_record(member=member, pipedream_id="apn_abc123")
    assert ConnectedAccount.objects.get().member == bob


def test_record_creates_an_unknown_app_disabled(pd, member):
    pd.get(
        f"{ACCOUNTS_URL}/apn_n1",
        json=account_data("apn_n1", member.external_id, app="notion"),
    )
    account = services.account_record(member=member, pipedream_id="apn_n1")
    assert account.app.slug == "notion" and account.app.enabled is False


def test_record_health_change_signal(
    pd, member, github, received, django_capture_on_commit_callbacks
):
    ConnectedAccount.objects.create(member=member, app=github, pipedream_id="apn_abc123")
    pd.get(
        f"{ACCOUNTS_URL}/apn_abc123",
        json=account_data(external_id=member.external_id, healthy=False, error="token_expired"),
    )
    with django_capture_on_commit_callbacks(execute=True):
        account = services.account_record(member=member, pipedream_id="apn_abc123")
    assert account.health == "unhealthy" and account.error == "token_expired"
    assert received == [
        (
            "account_health_changed",
            {"account": account, "member": member, "previous": "healthy", "current": "unhealthy"},
        )
    ]


def test_record_upstream_failure_and_missing_account(pd, member, github):
    pd.get(f"{ACCOUNTS_URL}/apn_gone", status=404, json={"error": "record not found"})
    with pytest.raises(services.AccountNotFound):
        services.account_record(member=member, pipedream_id="apn_gone")
    pd.get(f"{ACCOUNTS_URL}/apn_500", status=500, json={"error": "boom"})
    with pytest.raises(services.UpstreamError):
        services.account_record(member=member, pipedream_id="apn_500")
    assert not ConnectedAccount.objects.exists()


# --- account_disconnect ----------------------------------------------------------------


@pytest.fixture
def account(member, github):
    return ConnectedAccount.objects.create(member=member, app=github, pipedream_id="apn_abc123")


def test_disconnect_deletes_upstream_first(
    pd, member, account, received, django_capture_on_commit_callbacks
):
    pd.delete(f"{ACCOUNTS_URL}/apn_abc123", status=204)
    with django_capture_on_commit_callbacks(execute=True):
        services.account_disconnect(member=member, account=account)
    assert not ConnectedAccount.objects.exists()
    assert [c.request.method for c in pd.calls][-1] == "DELETE"
    assert received == [
        (
            "account_disconnected",
            {"member": member, "app_slug": "github", "pipedream_id": "apn_abc123"},
        )
    ]


def test_disconnect_already_gone_upstream_is_fine(pd, member, account):
    pd.delete(f"{ACCOUNTS_URL}/apn_abc123", status=404, json={"error": "record not found"})
    services.account_disconnect(member=member, account=account)
    assert not ConnectedAccount.objects.exists()


def test_disconnect_upstream_failure_keeps_the_row(pd, member, account, received):
    pd.delete(f"{ACCOUNTS_URL}/apn_abc123", status=502, json={"error": "bad gateway"})
    with pytest.raises(services.UpstreamError, match="Nothing was changed"):
        services.account_disconnect(member=member, account=account)
    assert ConnectedAccount.objects.filter(pk=account.pk).exists()
    assert received == []


def test_disconnect_someone_elses_account(pd, account, django_user_model):
    bob = django_user_model.objects.create_user(username="bob", password="x")
    with pytest.raises(ConnectedAccount.DoesNotExist):
        services.account_disconnect(member=bob, account=account)
    assert not pd.calls


# --- selectors -------------------------------------------------------------------------


def test_selectors_are_scoped(
    member, github, account, django_user_model, django_assert_num_queries
):
    bob = django_user_model.objects.create_user(username="bob", password="x")
    bobs = ConnectedAccount.objects.create(member=bob, app=github, pipedream_id="apn_bob")
    App.objects.create(slug="off", name="Off", enabled=False)
    with django_assert_num_queries(1):
        assert [a.app.slug for a in selectors.accounts_for_member(member=member)] == ["github"]
    assert selectors.account_for_member(member=member, account_id=account.pk) == account
    with pytest.raises(ConnectedAccount.DoesNotExist):
        selectors.account_for_member(member=member, account_id=bobs.pk)
    assert list(selectors.apps_available(member=member)) == [github]


def _as_read(account):
    """Every field of the account and of its app, with its type (a flag read back as 0
    would equal False)."""

    def fields(row):
        return {
            f.attname: (type(getattr(row, f.attname)), getattr(row, f.attname))
            for f in row._meta.concrete_fields
        }

    return fields(account), fields(account.app)


def test_accounts_with_apps_reads_what_the_orm_lists(
    member, github, account, django_user_model, django_assert_num_queries
):
    """The engine's written-out read: the same accounts, in Meta.ordering's order, with
    the same values (JSON, dates, flags) and their apps attached, in one query."""
    App.objects.filter(pk=github.pk).update(order=5)
    slack = App.objects.create(slug="slack", name="Slack", enabled=True, order=1)
    zoom = App.objects.create(slug="zoom", name="Aardvark", enabled=False, order=5)
    ConnectedAccount.objects.create(member=member, app=slack, pipedream_id="apn_s", name="z")
    ConnectedAccount.objects.create(
        member=member, app=github, pipedream_id="apn_g2", name="", healthy=False
    )
    ConnectedAccount.objects.create(member=member, app=zoom, pipedream_id="apn_z", name="b")
    ConnectedAccount.objects.create(member=member, app=github, pipedream_id="apn_g3", name="")
    bob = django_user_model.objects.create_user(username="bob", password="x")
    ConnectedAccount.objects.create(member=bob, app=github, pipedream_id="apn_bob")

    expected = list(selectors.accounts_for_member(member=member))
    with django_assert_num_queries(1):
        found = selectors.accounts_with_apps(member.pk)
        apps = [a.app.slug for a in found]

    assert len(found) == 5
    assert [a.pk for a in found] == [a.pk for a in expected]
    assert apps[0] == "slack" and apps[1] == "zoom"  # order, then the app's name
    assert [_as_read(a) for a in found] == [_as_read(a) for a in expected]
    assert selectors.accounts_with_apps(bob.pk)[0].pipedream_id == "apn_bob"
    assert selectors.accounts_with_apps(0) == []


# --- emailed links ---------------------------------------------------------------------


def test_emailed_link_round_trip(member, github, settings):
    settings.PUBLIC_URL = PUBLIC
    link = services.emailed_link_make(member=member, app=github, expires=datetime.timedelta(days=7))
    assert link.startswith(f"{PUBLIC}/connect/l/") and link.endswith("/")
    signed = link.removeprefix(f"{PUBLIC}/connect/l/").rstrip("/")
    assert services.emailed_link_open(signed) == (member, github)
    with pytest.raises(services.LinkInvalid):
        services.emailed_link_open(signed[:-2] + "xx")
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=8)
    with time_machine.travel(later), pytest.raises(services.LinkExpired, match="expired"):
        services.emailed_link_open(signed)
    github.enabled = False
    github.save()
    with pytest.raises(services.LinkInvalid, match="no longer be connected"):
        services.emailed_link_open(signed)


def test_emailed_link_member_gone(member, github):
    link = services.emailed_link_make(
        member=member, app=github, expires=datetime.timedelta(hours=1)
    )
    member.delete()
    with pytest.raises(services.LinkInvalid, match="no longer exists"):
        services.emailed_link_open(link.rstrip("/").rsplit("/", 1)[1])


def test_emailed_link_salt_differs_from_session_reference(member, github):
    session = make_session(member, github)
    with pytest.raises(services.LinkInvalid):
        services.emailed_link_open(services.session_reference(session))
    assert references.session_reference_read("a:b:c") is None
    with pytest.raises(ValueError):
        services.emailed_link_make(member=member, app=github, expires=datetime.timedelta(days=31))
