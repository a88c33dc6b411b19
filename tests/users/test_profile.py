"""/profile/: the member's emails, password, BitBadges address, and deleting the account.

Deleting goes to Pipedream first: `responses` makes it fail precisely (the `pd` fixture
in tests/conftest.py), the sandbox served by live_server shows the success path.
"""

import datetime
import html
import logging

import pytest
import requests
import responses
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from claims.audit import Actor
from claims.models import Claim, Completion, CompletionEvent, TriggerDeployment
from connections import services as connections_services
from connections.models import App, ConnectedAccount, ConnectSession
from sandbox.pipedream import catalogue
from sandbox.pipedream import models as sandbox_models
from sandbox.pipedream import services as pd_sandbox
from tests.connections.services_support import API, PROJECT
from tests.members_support import reauthenticate, verify_email

pytestmark = pytest.mark.django_db

User = get_user_model()

PROFILE = "/profile/"
ADDRESS = "/profile/address/"
DELETE = "/profile/delete/"
ALICE_ADDRESS = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"
BOB_ADDRESS = "0x14574a6DFF2Ddf9e07828b4345d3040919AF5652"


def text(response) -> str:
    return html.unescape(response.content.decode())


def users_url(member) -> str:
    return f"{API}/v1/connect/{PROJECT}/users/{member.external_id}"


@pytest.fixture
def alice(member):
    member.address = ALICE_ADDRESS
    member.save(update_fields=["address"])
    return member


@pytest.fixture
def bob(django_user_model):
    return verify_email(
        django_user_model.objects.create_user(
            username="bob", email="bob@example.com", password="connect-demo", address=BOB_ADDRESS
        )
    )


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return reauthenticate(client)  # deleting the account asks for it


@pytest.fixture
def claim():
    claim = Claim(slug="starter", name="Starter", enabled=True, delivery="dynamic_store")
    claim.store_id = "s"
    claim.set_store_secret("x")
    claim.save()
    return claim


@pytest.fixture
def github():
    return App.objects.create(slug="github", name="GitHub", enabled=True)


def ledger_for(member, claim, *, pid):
    """A completed claim with everything a member leaves behind locally."""
    account = ConnectedAccount.objects.create(
        member=member, app=App.objects.get(slug="github"), pipedream_id=pid, name="octo"
    )
    ConnectSession.objects.create(
        member=member,
        app=account.app,
        token_digest=f"digest-{pid}",
        expires_at=timezone.now() + datetime.timedelta(hours=1),
    )
    TriggerDeployment.objects.create(claim=claim, member=member, account=account)
    completion = Completion.objects.create(
        claim=claim,
        member=member,
        state=Completion.State.COMPLETED,
        address=member.address,
        upstream_identity=f"github:{member.username}-gh",
        reason=f"Confirm your email address: we sent a link to {member.email}.",
        evidence=[
            {"rule": "address", "value": member.address, "passed": True},
            {"rule": "email", "value": "confirmed", "passed": True},
        ],
    )
    CompletionEvent.objects.create(
        completion=completion, to_state="waiting", **Actor.member(member).fields()
    )
    CompletionEvent.objects.create(
        completion=completion,
        from_state="checking",
        to_state="delivering",
        **Actor.worker().fields(),
        details={"method": "dynamic_store", "address": member.address},
    )
    return completion


# --- the page ------------------------------------------------------------------------


def test_the_profile_needs_a_login(client):
    for url in (PROFILE, DELETE):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/")


def test_the_page_shows_emails_with_their_state_password_address_and_delete(alice_client, alice):
    EmailAddress.objects.create(user=alice, email="alice@work.example", verified=False)
    response = alice_client.get(PROFILE)
    body = text(response)
    assert response.status_code == 200
    assert "no-cache" in response["Cache-Control"]
    assert "alice@example.com" in body and "alice@work.example" in body
    assert body.count("Confirmed</span>") == 1 and body.count("Not confirmed</span>") == 1
    assert 'href="/email/"' in body
    assert 'href="/password/change/"' in body
    assert f'value="{ALICE_ADDRESS}"' in body
    assert 'href="/profile/delete/"' in body
    # The nav's Profile link marks the current page.
    assert '<a href="/profile/" aria-current="page">Profile</a>' in body


def test_a_member_without_an_email_is_told_to_add_one(client, django_user_model):
    dave = django_user_model.objects.create_user(username="dave", password="connect-demo")
    client.force_login(dave)
    assert "You have no email address." in text(client.get(PROFILE))


# --- the address form ----------------------------------------------------------------


def test_saving_an_address_returns_to_the_profile_with_a_message(alice_client, alice):
    new = "0x14574a6dff2ddf9e07828b4345d3040919af5652"
    response = alice_client.post(ADDRESS, {"address": f"  {new}  "})
    assert response.status_code == 302 and response["Location"] == PROFILE
    alice.refresh_from_db()
    assert alice.address == BOB_ADDRESS  # stored checksummed, as on /claims/
    body = text(alice_client.get(PROFILE))
    assert "Your BitBadges address is saved." in body
    assert f'value="{BOB_ADDRESS}"' in body


def test_the_same_address_again_says_so(alice_client):
    alice_client.post(ADDRESS, {"address": ALICE_ADDRESS.lower()})
    assert "That is already your BitBadges address." in text(alice_client.get(PROFILE))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(
            {"address": "hello world"}, "A BitBadges address starts with 0x", id="garbage"
        ),
        pytest.param(
            {"address": "0x742d35Cc6634c0532925A3b844bc9E7595F0beB1"},
            "do not match its EIP-55 checksum",
            id="wrong-checksum",
        ),
        pytest.param(
            {"address": "0x" + "a" * 10_000},
            "Ensure this value has at most 90 characters (it has 10002).",
            id="10000-chars",
        ),
        pytest.param({"address": ""}, "Enter your BitBadges address.", id="empty"),
        pytest.param({}, "Enter your BitBadges address.", id="missing"),
        pytest.param({"address": "<script>alert(1)</script>"}, "starts with 0x", id="hostile"),
    ],
)
def test_a_bad_address_shows_the_reason_and_saves_nothing(alice_client, alice, data, reason):
    response = alice_client.post(ADDRESS, data)
    body = text(response)
    assert response.status_code == 400
    assert reason in body
    assert 'aria-invalid="true"' in body
    assert "<script>alert(1)</script>" not in response.content.decode()
    alice.refresh_from_db()
    assert alice.address == ALICE_ADDRESS


def test_address_changes_are_rate_limited_like_on_the_claims_page(alice_client, alice, settings):
    settings.CLAIMS_CHECK_RATE_LIMIT = (1, 3600)
    alice_client.post(ADDRESS, {"address": BOB_ADDRESS})
    response = alice_client.post(ADDRESS, {"address": ALICE_ADDRESS})
    assert response.status_code == 302 and response["Location"] == PROFILE
    alice.refresh_from_db()
    assert alice.address == BOB_ADDRESS
    assert "You have asked for many checks in a short time." in text(alice_client.get(PROFILE))


@pytest.mark.parametrize("url", [ADDRESS, DELETE])
def test_posts_need_the_csrf_token(alice, url):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(url, {"address": BOB_ADDRESS, "confirm": "alice"})
    assert response.status_code == 403
    alice.refresh_from_db()
    assert alice.address == ALICE_ADDRESS
    assert User.objects.filter(pk=alice.pk).exists()


def test_only_get_and_post(alice_client):
    assert alice_client.put(PROFILE).status_code == 405
    assert alice_client.get(ADDRESS).status_code == 405
    assert alice_client.delete(DELETE).status_code == 405


# --- deleting: the confirmation ------------------------------------------------------


def test_get_shows_the_confirmation_and_deletes_nothing(alice_client, alice, pd):
    response = alice_client.get(DELETE)
    body = text(response)
    assert response.status_code == 200
    assert "Delete your account?" in body
    assert 'Type <strong class="delete-username">alice</strong> to confirm' in body
    assert User.objects.filter(pk=alice.pk).exists()
    assert not [c for c in pd.calls if "/users/" in c.request.url]


@pytest.mark.parametrize(
    "data",
    [{}, {"confirm": ""}, {"confirm": "bob"}, {"confirm": "alic"}, {"confirm": "x" * 10_000}],
    ids=["missing", "empty", "someone-else", "partial", "huge"],
)
def test_a_post_without_the_right_username_deletes_nothing(alice_client, alice, pd, data):
    response = alice_client.post(DELETE, data)
    assert response.status_code == 400
    assert 'class="field-error"' in response.content.decode()
    assert User.objects.filter(pk=alice.pk).exists()
    assert EmailAddress.objects.filter(user=alice).exists()
    assert not [c for c in pd.calls if "/users/" in c.request.url]
    # Still logged in.
    assert alice_client.get(PROFILE).status_code == 200


# --- deleting: Pipedream fails -------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "status", "sentence"),
    [
        pytest.param(
            {"status": 500, "json": {"error": "boom"}},
            503,
            "Pipedream is not answering right now. Nothing was changed; try again in a minute.",
            id="500",
        ),
        pytest.param(
            {"status": 400, "json": {"error": "boom"}},
            502,
            "Pipedream refused the request. Nothing was changed",
            id="400",
        ),
        pytest.param(
            {"body": requests.exceptions.ReadTimeout("slow")},
            503,
            "Pipedream is not answering right now. Nothing was changed",
            id="timeout",
        ),
        pytest.param(
            {"status": 503, "json": {"error": "down"}},
            503,
            "Pipedream is not answering right now",
            id="503",
        ),
        pytest.param(
            {"status": 429, "json": {"error": "slow down"}, "headers": {"Retry-After": "30"}},
            503,
            "Pipedream is busy right now. Nothing was changed; try again in 30 seconds.",
            id="429",
        ),
        pytest.param(
            {"status": 401, "json": {"error": "unauthorized"}},
            502,
            "could not sign in to Pipedream",
            id="401",
        ),
    ],
)
def test_when_pipedream_fails_nothing_is_deleted_and_the_member_sees_why(
    alice_client, alice, bob, claim, github, pd, answer, status, sentence
):
    completion = ledger_for(alice, claim, pid="apn_alice")
    pd.add(responses.DELETE, users_url(alice), **answer)

    response = alice_client.post(DELETE, {"confirm": "alice"})
    body = text(response)
    assert response.status_code == status
    assert "Your account was not deleted." in body
    assert sentence in body
    assert 'role="alert"' in body
    assert "boom" not in body  # Pipedream's own words are for the logs

    alice.refresh_from_db()
    assert alice.address == ALICE_ADDRESS
    assert EmailAddress.objects.filter(user=alice).count() == 1
    assert ConnectedAccount.objects.filter(member=alice).count() == 1
    assert ConnectSession.objects.filter(member=alice).count() == 1
    assert TriggerDeployment.objects.filter(member=alice).count() == 1
    completion.refresh_from_db()
    assert completion.member == alice and completion.address == ALICE_ADDRESS
    assert completion.events.filter(actor_kind="member", actor=alice).exists()
    assert alice_client.get(PROFILE).status_code == 200  # still logged in


def test_pipedream_not_configured_deletes_nothing(alice_client, alice, settings):
    settings.SANDBOX = False
    settings.PIPEDREAM_CLIENT_ID = ""
    settings.PIPEDREAM_CLIENT_SECRET = ""
    settings.PIPEDREAM_PROJECT_ID = ""
    response = alice_client.post(DELETE, {"confirm": "alice"})
    assert response.status_code == 502
    assert "could not sign in to Pipedream" in text(response)
    assert User.objects.filter(pk=alice.pk).exists()


# --- deleting: it works --------------------------------------------------------------


def test_a_404_from_pipedream_counts_as_already_gone(alice_client, alice, claim, github, pd):
    ledger_for(alice, claim, pid="apn_alice")
    pd.add(
        responses.DELETE,
        users_url(alice),
        status=404,
        json={"error": "record not found"},
    )
    response = alice_client.post(DELETE, {"confirm": "alice"})
    assert response.status_code == 302
    assert not User.objects.filter(username="alice").exists()
    assert Completion.objects.get().member is None


def test_deletion_anonymises_the_ledger_and_leaves_bob_alone(
    alice_client, alice, bob, claim, github, pd, caplog
):
    alice_completion = ledger_for(alice, claim, pid="apn_alice")
    bob_completion = ledger_for(bob, claim, pid="apn_bob")
    alice_pk = alice.pk
    pd.add(responses.DELETE, users_url(alice), status=204)

    with caplog.at_level(logging.INFO, logger="members"):
        response = alice_client.post(DELETE, {"confirm": " Alice "})
    assert response.status_code == 302 and response["Location"] == "/"
    assert [c.request.method for c in pd.calls if "/users/" in c.request.url] == ["DELETE"]

    assert not User.objects.filter(pk=alice_pk).exists()
    assert not ConnectedAccount.objects.filter(member_id=alice_pk).exists()
    assert not ConnectSession.objects.filter(member_id=alice_pk).exists()
    assert not TriggerDeployment.objects.filter(member_id=alice_pk).exists()
    assert not EmailAddress.objects.filter(user_id=alice_pk).exists()
    assert not EmailAddress.objects.filter(email="alice@example.com").exists()

    alice_completion.refresh_from_db()
    assert alice_completion.member is None
    assert alice_completion.state == Completion.State.COMPLETED
    assert alice_completion.address == ""
    assert "alice@example.com" not in alice_completion.reason
    assert ALICE_ADDRESS not in str(alice_completion.evidence)
    assert alice_completion.upstream_identity == "github:alice-gh"  # no farming via a new account
    actors = list(alice_completion.events.values_list("actor_kind", "actor"))
    assert actors == [("member", None), ("worker", None)]
    assert ALICE_ADDRESS not in str(list(alice_completion.events.values_list("details", flat=True)))

    # bob: untouched.
    bob_completion.refresh_from_db()
    assert bob_completion.member == bob and bob_completion.address == BOB_ADDRESS
    assert "bob@example.com" in bob_completion.reason
    assert bob_completion.events.filter(actor_kind="member", actor=bob).exists()
    assert ConnectedAccount.objects.filter(member=bob).count() == 1
    assert TriggerDeployment.objects.filter(member=bob).count() == 1
    assert EmailAddress.objects.filter(user=bob).count() == 1

    # Logged without personal data.
    logged = " ".join(record.getMessage() for record in caplog.records).lower()
    assert f"member {alice_pk} deleted their account" in logged
    for personal in ("alice", ALICE_ADDRESS.lower(), "example.com"):
        assert personal not in logged

    # Logged out, and told.
    assert alice_client.get(PROFILE).status_code == 302
    body = text(alice_client.get("/login/"))
    assert "Your account is deleted" in body


def test_deletion_leaves_member_events_with_no_actor_and_no_username(
    alice_client, alice, claim, github, pd, admin_client
):
    completion = ledger_for(alice, claim, pid="apn_alice")
    staff = User.objects.create_user("ops", is_staff=True)
    CompletionEvent.objects.create(
        completion=completion,
        from_state="failed",
        to_state="waiting",
        **Actor.staff(staff).fields(),
    )
    pd.add(responses.DELETE, users_url(alice), status=204)
    assert alice_client.post(DELETE, {"confirm": "alice"}).status_code == 302

    events = list(CompletionEvent.objects.filter(completion=completion).order_by("pk"))
    member_event = events[0]
    assert (member_event.actor_kind, member_event.actor_id) == ("member", None)
    assert member_event.actor_display() == "member: (deleted)"
    assert events[2].actor == staff  # someone else's part in it stays theirs
    for event in events[:2]:
        row = CompletionEvent.objects.filter(pk=event.pk).values().get()
        assert "alice" not in str(row).lower() and "alice" not in str(event).lower()
    page = admin_client.get("/admin/claims/completionevent/")
    assert page.status_code == 200
    assert "member: (deleted)" in page.text and "staff: ops" in page.text
    assert "alice" not in page.text.lower()


def test_other_sessions_of_the_member_are_logged_out_too(alice, pd):
    first, second = Client(), Client()
    first.force_login(alice)
    second.force_login(alice)
    reauthenticate(first)
    pd.add(responses.DELETE, users_url(alice), status=204)
    assert first.post(DELETE, {"confirm": "alice"}).status_code == 302
    response = second.get(PROFILE)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


# --- the sandbox over real HTTP ------------------------------------------------------


@pytest.fixture
def sandbox_site(live_server, settings):
    settings.PUBLIC_URL = live_server.url
    settings.PIPEDREAM_API_URL = f"{live_server.url}/sandbox/pipedream"
    settings.PIPEDREAM_CONNECT_URL = f"{live_server.url}/sandbox/pipedream"
    settings.SANDBOX_FAULTS = {}
    settings.PIPEDREAM_TIMEOUT = 5
    settings.PIPEDREAM_MAX_RETRIES = 1
    connections_services.app_upsert_from_pipedream(
        data=catalogue.get_catalogue_app("github"), enabled=True, order=0
    )
    return live_server


def connect(member, name):
    """An account created in the sandbox and recorded through the app's own service."""
    _raw, token = pd_sandbox.connect_token_create(
        project_id="proj_sandbox",
        environment="development",
        external_user_id=str(member.external_id),
    )
    upstream = pd_sandbox.account_connect(token=token, app_slug="github", name=name)
    return connections_services.account_record(member=member, pipedream_id=upstream.account_id)


def test_deletion_removes_the_member_in_the_sandbox(sandbox_site, alice, bob, claim):
    connect(alice, "octo-alice")
    connect(bob, "octo-bob")
    assert sandbox_models.ExternalUser.objects.filter(external_id=str(alice.external_id)).exists()
    Completion.objects.create(
        claim=claim, member=alice, state=Completion.State.COMPLETED, address=ALICE_ADDRESS
    )
    client = Client()
    client.force_login(alice)
    reauthenticate(client)

    response = client.post(DELETE, {"confirm": "alice"})
    assert response.status_code == 302

    assert not sandbox_models.ExternalUser.objects.filter(
        external_id=str(alice.external_id)
    ).exists()
    assert not sandbox_models.Account.objects.filter(name="octo-alice").exists()
    assert sandbox_models.Account.objects.filter(name="octo-bob").exists()
    assert not User.objects.filter(username="alice").exists()
    assert not ConnectedAccount.objects.filter(name="octo-alice").exists()
    assert ConnectedAccount.objects.filter(member=bob).count() == 1
    completion = Completion.objects.get()
    assert completion.member is None and completion.address == ""


def test_a_member_who_never_connected_anything_can_delete_too(sandbox_site, alice):
    # The sandbox knows no such external user: its 404 means already gone.
    client = Client()
    client.force_login(alice)
    reauthenticate(client)
    assert client.post(DELETE, {"confirm": "alice"}).status_code == 302
    assert not User.objects.filter(username="alice").exists()
