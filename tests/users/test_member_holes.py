"""Holes of issue 17 around a member's account: deleting from the admin goes through
member_delete (b); deletion scrubs the member's upstream names and external id from
what stays (c); deleting needs a recent re-authentication and sends a notice (d).

Pipedream is answered by `responses` (the `pd` fixture), so its failures are precise.
"""

import datetime
import html
import json

import pytest
import responses
from allauth.account.models import EmailAddress
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from claims.audit import Actor
from claims.models import Claim, Completion, CompletionEvent, TriggerDelivery, TriggerDeployment
from connections.models import (
    App,
    ConnectedAccount,
    ConnectSession,
    ReplacedAccount,
    WebhookEvent,
)
from tests.connections.services_support import API, PROJECT
from tests.members_support import reauthenticate, verify_email

pytestmark = pytest.mark.django_db

DELETE = "/profile/delete/"
ACCOUNT_NAME = "octo-alice@mail.example.org"  # what Pipedream calls her GitHub account
LOGIN = "octo-alice-gh"


def users_url(member) -> str:
    return f"{API}/v1/connect/{PROJECT}/users/{member.external_id}"


def deletes(pd) -> list[str]:
    return [c.request.url for c in pd.calls if c.request.method == "DELETE"]


@pytest.fixture
def bob(django_user_model):
    return verify_email(
        django_user_model.objects.create_user(
            username="bob", email="bob@example.com", password="connect-demo"
        )
    )


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


def staff(django_user_model, username, *codenames):
    user = django_user_model.objects.create_user(username=username, password="x", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


# --- (b) the admin deletes through member_delete --------------------------------------


def test_the_admin_delete_page_says_what_happens_and_deletes_at_pipedream_first(
    client, alice, claim, pd, django_user_model, django_capture_on_commit_callbacks, mailoutbox
):
    Completion.objects.create(claim=claim, member=alice, state="completed")
    url = f"/admin/users/user/{alice.pk}/delete/"

    # Staff who may view and change members, not delete them: no page, no action.
    client.force_login(staff(django_user_model, "editor", "view_user", "change_user"))
    assert client.get(url).status_code == 403
    assert client.post(url, {"confirm": "yes"}).status_code == 403
    listing = client.get("/admin/users/user/").text
    assert 'value="delete_members"' not in listing and 'value="delete_selected"' not in listing
    for action in ("delete_members", "delete_selected"):
        client.post(
            "/admin/users/user/",
            {"action": action, "_selected_action": [alice.pk], "confirm": "yes", "post": "yes"},
        )
    assert django_user_model.objects.filter(pk=alice.pk).exists()

    client.force_login(staff(django_user_model, "ops", "view_user", "delete_user"))

    page = client.get(url)
    assert page.status_code == 200
    assert "At Pipedream first" in page.text and "nothing is deleted here" in page.text
    assert deletes(pd) == []

    pd.add(responses.DELETE, users_url(alice), status=204)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"confirm": "yes"})
    assert response.status_code == 302
    assert deletes(pd) == [users_url(alice)]
    assert not django_user_model.objects.filter(pk=alice.pk).exists()
    assert Completion.objects.get().member is None
    # The history says a member was deleted, not who.
    entry = LogEntry.objects.get(object_id=str(alice.pk))
    assert "alice" not in entry.object_repr
    assert [m.to for m in mailoutbox] == [["alice@example.com"]]
    assert "by the site's staff" in mailoutbox[0].body


def test_the_stock_delete_confirmation_cannot_skip_pipedream(admin_client, alice, pd):
    # What Django's own confirmation posts: it deleted the row directly.
    response = admin_client.post(f"/admin/users/user/{alice.pk}/delete/", {"post": "yes"})
    assert response.status_code == 200  # the confirmation page, again
    assert alice.__class__.objects.filter(pk=alice.pk).exists()
    assert deletes(pd) == []


def test_a_pipedream_failure_shows_its_sentence_and_deletes_nothing_here(
    client, alice, github, pd, django_user_model
):
    ConnectedAccount.objects.create(member=alice, app=github, pipedream_id="apn_a", name="octo")
    client.force_login(staff(django_user_model, "ops", "view_user", "delete_user"))
    pd.add(responses.DELETE, users_url(alice), status=500, json={"error": "boom"})

    response = client.post(f"/admin/users/user/{alice.pk}/delete/", {"confirm": "yes"})

    assert response.status_code == 503
    text = html.unescape(response.text)
    assert "Pipedream is not answering right now. Nothing was changed" in text
    assert "boom" not in text
    assert django_user_model.objects.filter(pk=alice.pk).exists()
    assert ConnectedAccount.objects.filter(member=alice).count() == 1


def test_the_bulk_action_confirms_then_deletes_each_at_pipedream_first(
    admin_client, alice, bob, pd, django_user_model
):
    listing = admin_client.get("/admin/users/user/")
    assert 'value="delete_members"' in listing.text
    assert 'value="delete_selected"' not in listing.text  # Django's, which skips Pipedream

    chosen = {"action": "delete_members", "_selected_action": [alice.pk, bob.pk]}
    page = admin_client.post("/admin/users/user/", chosen)
    assert page.status_code == 200 and "At Pipedream first" in page.text
    assert deletes(pd) == []

    pd.add(responses.DELETE, users_url(alice), status=204)
    pd.add(responses.DELETE, users_url(bob), status=429, headers={"Retry-After": "30"})
    response = admin_client.post("/admin/users/user/", {**chosen, "confirm": "yes"})

    assert sorted(deletes(pd)) == sorted([users_url(alice), users_url(bob)])
    assert not django_user_model.objects.filter(pk=alice.pk).exists()
    assert django_user_model.objects.filter(pk=bob.pk).exists()  # Pipedream said "later"
    assert response.status_code == 503
    assert "Pipedream is busy right now" in html.unescape(response.text)


def test_django_s_delete_selected_action_is_gone(admin_client, alice, pd):
    admin_client.post(
        "/admin/users/user/",
        {"action": "delete_selected", "_selected_action": [alice.pk], "post": "yes"},
    )
    assert alice.__class__.objects.filter(pk=alice.pk).exists()
    assert deletes(pd) == []


# --- (c) what outlives the member names nobody ----------------------------------------


def test_deletion_scrubs_upstream_names_and_the_external_id_from_what_stays(
    client, alice, bob, claim, github, pd
):
    external_id = str(alice.external_id)
    account = ConnectedAccount.objects.create(
        member=alice, app=github, pipedream_id="apn_alice1", name=ACCOUNT_NAME
    )
    ConnectedAccount.objects.create(member=alice, app=github, pipedream_id="apn_a2", name=LOGIN)
    session = ConnectSession.objects.create(
        member=alice,
        app=github,
        token_digest="digest-alice",
        expires_at=timezone.now() + datetime.timedelta(hours=1),
    )
    webhook_body = json.dumps(
        {
            "event": "CONNECTION_SUCCESS",
            "connect_token": "ctok",
            "account": {"id": "apn_alice1", "name": ACCOUNT_NAME},
            "external_user_id": external_id,
        }
    )
    webhook = WebhookEvent.objects.create(
        body=webhook_body,
        body_digest="d1",
        event="CONNECTION_SUCCESS",
        session=session,
        outcome="connected",
        detail=f"Recorded {ACCOUNT_NAME} (apn_alice1).",
    )
    refused = WebhookEvent.objects.create(  # no session: found by the external id
        body=json.dumps({"external_user_id": external_id, "account": {"name": LOGIN}}),
        body_digest="d2",
        outcome="refused",
    )
    bobs = WebhookEvent.objects.create(
        body=json.dumps({"external_user_id": str(bob.external_id), "account": {"name": "bob-gh"}}),
        body_digest="d3",
        outcome="connected",
    )
    deployment = TriggerDeployment.objects.create(claim=claim, member=alice, account=account)
    delivery = TriggerDelivery.objects.create(
        deployment=deployment,
        event_id="evt-1",
        body=json.dumps({"sender": {"login": ACCOUNT_NAME}, "repo": "octo/x"}),
        headers={"x-github-login": ACCOUNT_NAME},
        outcome="accepted",
        detail=f"Check asked for {ACCOUNT_NAME}.",
    )
    completion = Completion.objects.create(
        claim=claim,
        member=alice,
        state="completed",
        upstream_identity=f"github:{ACCOUNT_NAME}",
        delivery_reference=f"stored {ACCOUNT_NAME} for apn_alice1",
        evidence=[{"rule": "criterion", "value": ACCOUNT_NAME, "passed": True}],
    )
    CompletionEvent.objects.create(
        completion=completion,
        to_state="completed",
        details={"reference": ACCOUNT_NAME, "external": external_id},
        **Actor.worker().fields(),
    )
    pd.add(responses.DELETE, users_url(alice), status=204)
    client.force_login(alice)
    reauthenticate(client)

    assert client.post(DELETE, {"confirm": "alice"}).status_code == 302

    webhook.refresh_from_db()
    refused.refresh_from_db()
    delivery.refresh_from_db()
    completion.refresh_from_db()
    event = CompletionEvent.objects.get(completion=completion)
    stays = [
        webhook.body,
        webhook.detail,
        refused.body,
        delivery.body,
        json.dumps(delivery.headers),
        delivery.detail,
        completion.delivery_reference,
        json.dumps(completion.evidence),
        json.dumps(event.details),
    ]
    for text in stays:
        for personal in (ACCOUNT_NAME, LOGIN, external_id, "apn_alice1"):
            assert personal not in text, (personal, text)
    # The raw bodies are emptied whole; what identifies a delivery stays.
    assert webhook.body == refused.body == delivery.body == "" and delivery.headers == {}
    assert (webhook.body_digest, refused.body_digest) == ("d1", "d2")
    assert webhook.event == "CONNECTION_SUCCESS" and "(deleted)" in webhook.detail
    # What stops the same GitHub account from earning the claim twice stays.
    assert completion.upstream_identity == f"github:{ACCOUNT_NAME}"
    # bob's delivery is bob's.
    bobs.refresh_from_db()
    assert str(bob.external_id) in bobs.body and "bob-gh" in bobs.body


def test_deletion_empties_her_deliveries_and_scrubs_accounts_she_no_longer_has(
    client, alice, bob, claim, github, pd
):
    """Found by review: the words came only from her current accounts, so one she had
    disconnected (its row gone) stayed named in her webhooks and her ledger."""
    old_name, old_login = "octo-old@mail.example.org", "octo-old-login"
    session = ConnectSession.objects.create(
        member=alice,
        app=github,
        token_digest="digest-alice",
        expires_at=timezone.now() + datetime.timedelta(hours=1),
    )
    body = json.dumps(
        {"event": "CONNECTION_SUCCESS", "account": {"id": "apn_old", "name": old_name}}
    )
    webhook = WebhookEvent.objects.create(
        body=body,
        body_digest="d1",
        body_size=len(body),
        session=session,
        outcome="connected",
        detail="Account apn_old recorded (#7).",
    )
    ReplacedAccount.objects.create(member=alice, pipedream_id="apn_replaced")
    ConnectedAccount.objects.create(member=alice, app=github, pipedream_id="apn_s", name="star")
    deployment = TriggerDeployment.objects.create(
        claim=claim, member=alice, account_pipedream_id="apn_old", pipedream_id="dc_alice"
    )
    delivery = TriggerDelivery.objects.create(
        deployment=deployment,
        event_id="evt-1",
        body=json.dumps({"sender": {"id": 4242, "login": old_login}}),
        body_digest="t1",
        body_size=40,
        outcome="accepted",
        detail="Check asked.",
    )
    site = TriggerDeployment.objects.create(claim=claim, member=None, pipedream_id="dc_site")
    shared = TriggerDelivery.objects.create(
        deployment=site,
        event_id="evt-2",
        body=json.dumps(
            {
                "sender": {"login": old_login},
                "repository": "octo/shared",
                # Others' words that hold hers: a short name, a login inside another.
                "topics": ["starlight", f"{old_login}-fan"],
            }
        ),
        outcome="accepted",
        detail=f"Checks asked for the members of {old_login}.",
    )
    completion = Completion.objects.create(
        claim=claim,
        member=alice,
        state="ineligible",
        upstream_identity=f"github:{old_login}",
        reason=f"This GitHub account ({old_login}) has already earned this claim.",
        delivery_reference="apn_old then apn_replaced",
        evidence=[{"rule": "criterion", "value": old_login, "account": "apn_old"}],
    )
    CompletionEvent.objects.create(
        completion=completion,
        to_state="ineligible",
        details={"account": "apn_old", "name": old_name, "trigger": "dc_alice"},
        **Actor.worker().fields(),
    )
    bobs_body = json.dumps({"account": {"id": "apn_bob", "name": "bob-gh"}})
    bobs = WebhookEvent.objects.create(body=bobs_body, body_digest="d3", outcome="connected")
    pd.add(responses.DELETE, users_url(alice), status=204)
    client.force_login(alice)
    reauthenticate(client)

    assert client.post(DELETE, {"confirm": "alice"}).status_code == 302

    for row in (webhook, delivery, shared, completion, bobs):
        row.refresh_from_db()
    event = CompletionEvent.objects.get(completion=completion)
    # Her raw bodies are emptied whole; digests and sizes stay.
    assert (webhook.body, webhook.body_digest, webhook.body_size) == ("", "d1", len(body))
    assert (delivery.body, delivery.body_digest, delivery.body_size) == ("", "t1", 40)
    stays = [
        webhook.detail,
        delivery.detail,
        shared.detail,
        completion.reason,
        completion.delivery_reference,
        json.dumps(completion.evidence),
        json.dumps(event.details),
    ]
    for text in stays:
        for personal in (old_name, old_login, "apn_old", "apn_replaced", "dc_alice"):
            assert personal not in text, (personal, text)
    assert webhook.detail == "Account (deleted) recorded (#7)."
    # The site's delivery is not hers alone: it stays, without her login.
    assert json.loads(shared.body)["sender"] == {"login": "(deleted)"}
    assert "octo/shared" in shared.body
    # Only her distinctive names, as whole words: others' words are left whole.
    assert "starlight" in shared.body and f"{old_login}-fan" in shared.body
    assert completion.upstream_identity == f"github:{old_login}"
    assert bobs.body == bobs_body


def test_deletion_scrubs_the_admin_history_of_every_row_of_hers(
    client, alice, bob, claim, github, pd, django_user_model
):
    """Found by review: only the member's and her accounts' history was scrubbed; the
    admin logs an email address under the address, and a completion as "claim · alice ·
    state"."""
    ops = staff(django_user_model, "ops")
    second = EmailAddress.objects.create(user=alice, email="alice-2@example.net", verified=True)
    session = ConnectSession.objects.create(
        member=alice,
        app=github,
        token_digest="digest-alice",
        expires_at=timezone.now() + datetime.timedelta(hours=1),
    )
    WebhookEvent.objects.create(
        body=json.dumps({"account": {"id": "apn_old", "name": "octo-old@mail.example.org"}}),
        body_digest="d1",
        session=session,
        outcome="connected",
    )
    completion = Completion.objects.create(claim=claim, member=alice, state="completed")
    bobs_completion = Completion.objects.create(claim=claim, member=bob, state="completed")
    event = CompletionEvent.objects.create(
        completion=completion, to_state="completed", **Actor.member(alice).fields()
    )
    added = json.dumps([{"added": {"name": "email address", "object": second.email}}])

    def log(model, object_id, object_repr, change_message="[]"):
        return LogEntry.objects.create(
            user_id=ops.pk,
            content_type=ContentType.objects.get_for_model(model),
            object_id=str(object_id),
            object_repr=object_repr[:200],
            action_flag=CHANGE,
            change_message=change_message,
        )

    hers = [
        log(
            EmailAddress,
            EmailAddress.objects.get(email="alice@example.com").pk,
            "alice@example.com",
        ),
        log(EmailAddress, second.pk, str(second), '[{"changed": {"fields": ["Verified"]}}]'),
        log(django_user_model, alice.pk, "alice", added),
        log(Completion, completion.pk, str(completion)),
        log(CompletionEvent, event.pk, str(event)),
        log(ConnectSession, session.pk, str(session)),
        # An account she disconnected: its row is gone, its name is in her webhook.
        log(ConnectedAccount, 987654, "GitHub · octo-old@mail.example.org"),
    ]
    bobs = [
        log(EmailAddress, EmailAddress.objects.get(user=bob).pk, "bob@example.com"),
        log(Completion, bobs_completion.pk, str(bobs_completion)),
    ]
    assert "alice" in hers[3].object_repr and "alice" in hers[4].object_repr
    pd.add(responses.DELETE, users_url(alice), status=204)
    client.force_login(alice)
    reauthenticate(client)

    assert client.post(DELETE, {"confirm": "alice"}).status_code == 302

    for entry in hers:
        entry.refresh_from_db()
        for personal in ("alice", "octo-old"):
            assert personal not in entry.object_repr.lower(), entry.object_repr
            assert personal not in entry.change_message.lower(), entry.change_message
        assert "(deleted)" in entry.object_repr + entry.change_message
    assert json.loads(hers[2].change_message) == [
        {"added": {"name": "email address", "object": "(deleted)"}}
    ]
    assert hers[3].object_repr == "Starter · (deleted) · completed"
    for entry in bobs:
        before = entry.object_repr
        entry.refresh_from_db()
        assert entry.object_repr == before and "bob" in before


# --- (d) re-authentication and the notice --------------------------------------------


def test_deleting_needs_a_recent_reauthentication_and_then_goes_on(
    client, alice, pd, django_user_model, django_capture_on_commit_callbacks, mailoutbox
):
    EmailAddress.objects.create(user=alice, email="alice-unconfirmed@example.net", verified=False)
    pd.add(responses.DELETE, users_url(alice), status=204)
    client.force_login(alice)  # a session, but no password typed lately

    response = client.post(DELETE, {"confirm": "alice"})

    assert response.status_code == 302
    assert response["Location"].startswith("/reauthenticate/")
    assert django_user_model.objects.filter(pk=alice.pk).exists()
    assert deletes(pd) == []

    wrong = client.post(response["Location"], {"password": "not-hers"})
    assert wrong.status_code == 200
    assert django_user_model.objects.filter(pk=alice.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(response["Location"], {"password": "connect-demo"})
    assert done.status_code == 302
    assert not django_user_model.objects.filter(pk=alice.pk).exists()
    assert deletes(pd) == [users_url(alice)]

    # The notice: to her confirmed address only.
    assert [m.to for m in mailoutbox] == [["alice@example.com"]]
    notice = mailoutbox[0]
    assert "Your account is deleted" in notice.subject
    assert "alice" in notice.body and "If you did not ask for this" in notice.body
    assert "by the site's staff" not in notice.body


def test_staff_cannot_delete_their_own_account_in_the_admin(admin_client, admin_user, pd):
    response = admin_client.post(f"/admin/users/user/{admin_user.pk}/delete/", {"confirm": "yes"})
    assert response.status_code == 400
    assert "use your profile" in response.text
    assert admin_user.__class__.objects.filter(pk=admin_user.pk).exists()
    assert deletes(pd) == []
