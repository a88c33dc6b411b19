"""Every object reachable by URL, tried as another member: bob goes after alice's
connected account, her connect session and its return link, her emailed Connect Link
(and alice after bob's), her claims, email addresses, profile and trigger deployment,
and a member with no staff rights goes through the whole admin and the sandbox's control
page. Each answer is a 404, 403, 400 or a redirect to log in; nothing of alice's changes
and nothing of hers shows."""

import datetime
import json

import pytest
from allauth.account.models import EmailAddress
from django.test import Client

from claims.models import Claim, Completion, TriggerDelivery, TriggerDeployment
from connections import references, services
from connections.models import App, ConnectedAccount, ConnectSession
from tests.attack.urls_support import routes, sample_path
from tests.attack.webhooks_support import KEY, signed
from tests.members_support import reauthenticate

pytestmark = pytest.mark.django_db

# Distinctive values of alice's: none may show on a page of bob's.
ALICE_ACCOUNT_NAME = "alice-private-octo-7f3a"
ALICE_EMAIL_2 = "alice.second.7f3a@example.com"
ALICE_ADDRESS = "0x742d35cC6634c0532925A3b844bc9E7595F0beB1"


@pytest.fixture
def world(member, bob):
    alice = member
    alice.address = ALICE_ADDRESS
    alice.save(update_fields=["address"])
    EmailAddress.objects.create(user=alice, email=ALICE_EMAIL_2, verified=False, primary=False)
    app = App.objects.create(slug="github", name="GitHub", enabled=True)
    account = ConnectedAccount.objects.create(
        member=alice, app=app, pipedream_id="apn_alice", name=ALICE_ACCOUNT_NAME
    )
    session = ConnectSession.objects.create(
        member=alice,
        app=app,
        mode=ConnectSession.Mode.LINK,
        token_digest="a" * 64,
        expires_at=datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC),
    )
    claim = Claim(slug="demo", name="Demo", enabled=True, delivery="dynamic_store", store_id="s")
    claim.set_store_secret("store-secret-idor-7f3a")
    claim.save()
    completion = Completion.objects.create(claim=claim, member=alice, state="ineligible")
    bob_account = ConnectedAccount.objects.create(
        member=bob, app=app, pipedream_id="apn_bob", name="bobs-octo"
    )
    deployments = {}
    for who, key, acct in ((alice, KEY, account), (bob, "bobs-own-signing-key-99", bob_account)):
        deployment = TriggerDeployment(
            claim=claim,
            member=who,
            account=acct,
            account_pipedream_id=acct.pipedream_id,
            pipedream_id=f"dc_{who.username}",
            status=TriggerDeployment.Status.ACTIVE,
        )
        deployment.set_signing_key(key)
        deployment.save()
        deployments[who.username] = deployment
    return {
        "alice": alice,
        "bob": bob,
        "app": app,
        "account": account,
        "session": session,
        "claim": claim,
        "completion": completion,
        "deployments": deployments,
    }


def alices_things(alice) -> dict:
    """Everything of alice's a request could change."""
    alice.refresh_from_db()
    return {
        "user": (alice.username, alice.email, alice.address, alice.is_active, alice.password),
        "emails": sorted(
            EmailAddress.objects.filter(user=alice).values_list("email", "verified", "primary")
        ),
        "accounts": sorted(
            ConnectedAccount.objects.filter(member=alice).values_list("pk", "name", "healthy")
        ),
        "sessions": sorted(
            ConnectSession.objects.filter(member=alice).values_list("pk", "status", "error")
        ),
        "completions": sorted(
            Completion.objects.filter(member=alice).values_list("pk", "state", "attempts")
        ),
        "deployments": sorted(
            TriggerDeployment.objects.filter(member=alice).values_list("pk", "status", "events")
        ),
    }


def shows_nothing_of_alice(response, what):
    text = response.content.decode("utf-8", errors="replace")
    for value in (ALICE_ACCOUNT_NAME, ALICE_EMAIL_2, ALICE_ADDRESS, "alice@example.com"):
        assert value not in text, f"{what} shows {value}"


def test_bob_cannot_touch_alices_connected_account(world):
    bob = Client()
    bob.force_login(world["bob"])
    before = alices_things(world["alice"])
    pk = world["account"].pk
    for response, what in [
        (bob.get(f"/accounts/{pk}/disconnect/"), "GET disconnect"),
        (bob.get(f"/accounts/{pk}/disconnect/", HTTP_HX_REQUEST="true"), "htmx GET disconnect"),
        (bob.post(f"/accounts/{pk}/disconnect/"), "POST disconnect"),
        (bob.post(f"/accounts/{pk}/disconnect/", HTTP_HX_REQUEST="true"), "htmx POST"),
        (bob.get(f"/connect/github/?account={pk}"), "reconnect link"),
        (
            bob.post(
                "/connect/token/",
                json.dumps({"app": "github", "account": pk}),
                content_type="application/json",
            ),
            "reconnect token",
        ),
    ]:
        assert response.status_code == 404, (what, response.status_code)
        shows_nothing_of_alice(response, what)
    for path in ("/accounts/", "/claims/", "/profile/", "/email/", "/c/demo/"):
        page = bob.get(path)
        assert page.status_code == 200
        shows_nothing_of_alice(page, path)
        shows_nothing_of_alice(bob.get(path, HTTP_HX_REQUEST="true"), f"htmx {path}")
    assert alices_things(world["alice"]) == before


def test_bob_cannot_use_alices_connect_session(world):
    bob = Client()
    bob.force_login(world["bob"])
    before = alices_things(world["alice"])
    reference = services.session_reference(world["session"])
    response = bob.post(
        "/connect/callback/",
        json.dumps({"session": reference, "account": "apn_bob"}),
        content_type="application/json",
    )
    assert response.status_code == 400
    for query in (f"s={reference}", f"s={reference}&result=error&error=hijacked"):
        response = bob.get(f"/connect/done/?{query}")
        assert response.status_code == 403
        assert b"belongs to another member" in response.content
        shows_nothing_of_alice(response, "done")
    assert alices_things(world["alice"]) == before


def test_an_emailed_link_works_only_for_its_member(world):
    """bob's emailed Connect Link, opened by alice (and hers by bob): refused, no session."""
    for owner, intruder in (("bob", "alice"), ("alice", "bob")):
        signed_link = references.emailed_link_sign(
            member_pk=world[owner].pk,
            external_id=str(world[owner].external_id),
            app_slug="github",
            expires_at=datetime.datetime(2100, 1, 1, tzinfo=datetime.UTC),
        )
        client = Client()
        client.force_login(world[intruder])
        sessions = ConnectSession.objects.count()
        response = client.get(f"/connect/l/{signed_link}/")
        assert response.status_code == 403
        assert b"This link is for another member" in response.content
        assert ConnectSession.objects.count() == sessions
    # A link re-signed for another member by editing the payload does not verify.
    forged = signed_link[:5] + ("A" if signed_link[5] != "A" else "B") + signed_link[6:]
    client = Client()
    client.force_login(world["bob"])
    assert client.get(f"/connect/l/{forged}/").status_code == 400


def test_check_again_and_the_landing_page_act_for_the_requester_only(world):
    bob = Client()
    bob.force_login(world["bob"])
    before = alices_things(world["alice"])
    assert bob.post("/claims/demo/check/").status_code == 302
    assert bob.post("/c/demo/check/").status_code in (302, 303)
    assert bob.post("/c/demo/address/", {"address": ALICE_ADDRESS}).status_code in (302, 303)
    assert alices_things(world["alice"]) == before
    assert Completion.objects.filter(member=world["bob"]).exists()


def test_bob_cannot_change_alices_email_addresses_or_profile(world):
    bob = Client()
    bob.force_login(world["bob"])
    before = alices_things(world["alice"])
    for action in ("action_remove", "action_primary", "action_send"):
        for email in ("alice@example.com", ALICE_EMAIL_2):
            response = bob.post("/email/", {"email": email, action: ""})
            assert response.status_code in (200, 302, 400), (action, response.status_code)
            shows_nothing_of_alice(response, f"/email/ {action}")
    reauthenticate(bob)  # deleting asks for it; bob has typed his own password
    response = bob.post("/profile/delete/", {"confirm": "alice", "username": "alice"})
    assert response.status_code == 400
    response = bob.post("/profile/address/", {"address": ALICE_ADDRESS})
    assert alices_things(world["alice"]) == before
    assert EmailAddress.objects.filter(user=world["alice"]).count() == 2


def test_a_delivery_for_alices_deployment_signed_with_bobs_key_is_refused(world, settings):
    from claims import triggers

    settings.PIPEDREAM_TRIGGER_SIGNATURE = "pd-v1"  # a format configured: it is verified

    alice_reference = triggers.webhook_url(world["deployments"]["alice"]).split("?", 1)[1]
    body = b'{"repo": "x"}'
    response = Client().post(
        f"/claims/trigger-webhook/?{alice_reference}",
        data=body,
        content_type="application/json",
        **signed(body, key="bobs-own-signing-key-99"),
    )
    assert response.status_code == 401
    assert TriggerDelivery.objects.get().outcome == "refused"
    assert world["deployments"]["alice"].events == 0
    deployment = TriggerDeployment.objects.get(pk=world["deployments"]["alice"].pk)
    assert deployment.events == 0


def test_a_member_without_staff_rights_gets_nothing_from_the_admin_or_the_sandbox(world):
    bob = Client()
    bob.force_login(world["bob"])
    before = alices_things(world["alice"])
    values = {
        "object_id": world["account"].pk,
        "path": str(world["account"].pk),
        "pk": 1,
        "int": 1,
        "slug": "demo",
        "app": "github",
        "account_id": world["account"].pk,
    }
    tried = 0
    for route in routes():
        if not (route.admin or route.route.startswith("sandbox/")):
            continue
        if route.route.startswith(("sandbox/pipedream/", "sandbox/bitbadges/")):
            continue  # the emulated upstream: its own credentials, not our members
        if route.route.startswith("sandbox/host/") and not route.route.startswith(
            "sandbox/host/faults/"
        ):
            continue  # the emulated host site's public OpenID Connect provider
        path = sample_path(route, values)
        for method in ("get", "post"):
            response = getattr(bob, method)(path)
            if route.name == "logout":
                bob.force_login(world["bob"])  # the admin's logout logged him out
            tried += 1
            if route.name == "login" and route.admin:
                # The admin's login refuses a logged-in member (it never checks a password).
                assert response.status_code == 403, (method, path)
            elif route.name == "logout" and route.admin:
                assert response.status_code in (200, 302), (method, path)
            elif route.admin:
                assert response.status_code in (302, 403, 404), (method, path)
                if response.status_code == 302:
                    assert response["Location"].startswith("/admin/login/"), path
            else:
                assert response.status_code in (403, 405), (method, path, response.status_code)
            shows_nothing_of_alice(response, f"{method.upper()} {path}")
    assert tried > 100
    assert alices_things(world["alice"]) == before
