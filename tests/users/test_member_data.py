"""/profile/data/: a member downloads everything the site holds about them, as JSON.

Two members are seeded with the same app and claim and every kind of row the site keeps
about a member; each string of bob's carries BOB, and known secret values are seeded
(Connect token digest, webhook body's token, TOTP secret, recovery codes, trigger
signing key, claim password and store secret, the password hash) to be looked for.
"""

import datetime
import json
import tracemalloc

import pytest
from allauth.mfa.models import Authenticator
from django.apps import apps as django_apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from claims.audit import Actor
from claims.job_models import ClaimJob, DryRunRow
from claims.models import Claim, Completion, CompletionEvent
from claims.trigger_models import TriggerDelivery, TriggerDeployment
from connections.models import (
    App,
    ConnectedAccount,
    ConnectSession,
    ReplacedAccount,
    WebhookEvent,
)
from members import data_export
from tests.members_support import reauthenticate, verify_email

pytestmark = pytest.mark.django_db

User = get_user_model()

DATA = "/profile/data/"
BOB = "BOBMARK"
CLAIM_PASSWORD = "claim-password-KNOWN-5f1c"
STORE_SECRET = "store-secret-KNOWN-77ab"


def secrets_of(tag: str) -> dict[str, str]:
    return {
        "token_digest": f"{tag}-digest-".ljust(64, "d"),
        "connect_token": f"ctok_{tag}_KNOWN_connect_token",
        "totp": f"TOTPSECRET{tag}KNOWN",
        "recovery": f"recovery-seed-{tag}-KNOWN",
        "signing_key": f"whsec-{tag}-KNOWN-signing-key",
    }


@pytest.fixture
def claim():
    claim = Claim(slug="starter", name="Starter", enabled=True, delivery="dynamic_store")
    claim.store_id = "s"
    claim.set_store_secret(STORE_SECRET)
    claim.set_password(CLAIM_PASSWORD)
    claim.save()
    return claim


@pytest.fixture
def github():
    return App.objects.create(slug="github", name="GitHub", enabled=True)


def seed(member, claim, app, tag: str, *, events: int = 2, rows: int = 1) -> None:
    """Every kind of row the site keeps about `member`, each string carrying `tag`."""
    known = secrets_of(tag)
    now = timezone.now()
    for n in range(rows):
        account = ConnectedAccount.objects.create(
            member=member, app=app, pipedream_id=f"apn_{tag}_{n}", name=f"{tag}-octo-{n}"
        )
        ReplacedAccount.objects.create(member=member, pipedream_id=f"apn_{tag}_old_{n}")
        session = ConnectSession.objects.create(
            member=member,
            app=app,
            mode=ConnectSession.Mode.LINK,
            token_digest=known["token_digest"][:-3] + f"{n:03d}",
            expires_at=now + datetime.timedelta(hours=1),
            account=account,
        )
        WebhookEvent.objects.create(
            session=session,
            event="CONNECTION_SUCCESS",
            body=json.dumps({"connect_token": known["connect_token"], "account": {"id": tag}}),
            body_digest="0" * 64,
            detail=f"account {tag} recorded",
        )
    Authenticator.objects.create(user=member, type="totp", data={"secret": known["totp"]})
    Authenticator.objects.create(
        user=member, type="recovery_codes", data={"seed": known["recovery"], "used_mask": 0}
    )
    completion = Completion.objects.create(
        claim=claim,
        member=member,
        state=Completion.State.COMPLETED,
        address=f"0x{tag}",
        upstream_identity=f"github:{tag}-gh",
        reason=f"Delivered to {tag}.",
        evidence=[{"rule": "app:github", "label": "GitHub connected", "value": f"{tag} seen"}],
        completed_at=now,
    )
    CompletionEvent.objects.bulk_create(
        CompletionEvent(
            completion=completion,
            to_state="waiting",
            details={"note": f"{tag} event {n}"},
            **Actor.member(member).fields(),
        )
        for n in range(events)
    )
    deployment = TriggerDeployment(
        claim=claim, member=member, account=account, pipedream_id=f"dc_{tag}"
    )
    deployment.set_signing_key(known["signing_key"])
    deployment.save()
    TriggerDelivery.objects.create(
        deployment=deployment,
        event_id=f"evt_{tag}",
        body=json.dumps({"login": f"{tag}-gh"}),
        headers={"x-pd-signature": known["signing_key"]},
        outcome=TriggerDelivery.Outcome.ACCEPTED,
    )
    job = ClaimJob.objects.create(
        kind=ClaimJob.Kind.TRY_IT, claim=claim, member=member, result={"note": f"{tag} met"}
    )
    DryRunRow.objects.create(job=job, member=member, outcome="qualify", note=f"{tag} would")
    staff = User.objects.create_user(username=f"staff-{tag}", is_staff=True)
    LogEntry.objects.create(
        user=staff,
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(member.pk),
        object_repr=member.get_username(),
        action_flag=CHANGE,
        change_message=f"Changed the address of {tag}.",
    )


@pytest.fixture
def alice(django_user_model, claim, github):
    alice = verify_email(
        django_user_model.objects.create_user(
            username="alice", email="alice@example.com", password="connect-demo", address="0x1"
        )
    )
    seed(alice, claim, github, "alice")
    return alice


@pytest.fixture
def bob(django_user_model, claim, github):
    bob = verify_email(
        django_user_model.objects.create_user(
            username=f"bob{BOB}", email=f"bob@{BOB}.example", password="bob-password"
        )
    )
    seed(bob, claim, github, BOB)
    return bob


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return reauthenticate(client)  # the download asks for it, as deleting does


def download(client) -> tuple[object, bytes]:
    response = client.post(DATA)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def test_the_file_is_an_attachment_never_cached(alice_client):
    response, body = download(alice_client)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="connect-and-claim-alice-{today}.json"'
    )
    assert "no-store" in response["Cache-Control"]
    assert int(response["Content-Length"]) == len(body)
    data = json.loads(body)
    assert (data["format"], data["version"]) == ("connect-and-claim/member-data", 1)
    assert datetime.datetime.fromisoformat(data["generated_at"])


def test_it_holds_the_members_own_rows_and_none_of_anothers(alice_client, alice, bob):
    response, body = download(alice_client)
    data = json.loads(body)

    member = data["member"]
    assert (member["username"], member["email"], member["address"]) == (
        "alice",
        "alice@example.com",
        "0x1",
    )
    assert member["external_id"] == str(alice.external_id)
    assert datetime.datetime.fromisoformat(member["date_joined"])
    assert member["second_factor_on"] is True
    assert [e["email"] for e in data["email_addresses"]] == ["alice@example.com"]
    assert data["email_addresses"][0]["verified"] is True
    assert [f["type"] for f in data["second_factors"]] == ["totp", "recovery_codes"]
    assert [a["name"] for a in data["connected_accounts"]] == ["alice-octo-0"]
    assert data["connected_accounts"][0]["app_slug"] == "github"
    assert [a["pipedream_id"] for a in data["replaced_accounts"]] == ["apn_alice_old_0"]
    assert data["connect_sessions"][0]["status"] == "issued"
    assert data["connection_webhooks"][0]["detail"] == "account alice recorded"
    (completion,) = data["completions"]
    assert (completion["claim_slug"], completion["state"]) == ("starter", "completed")
    assert completion["evidence"][0]["value"] == "alice seen"
    assert completion["upstream_identity"] == "github:alice-gh"
    assert [e["details"]["note"] for e in data["completion_events"]] == [
        "alice event 0",
        "alice event 1",
    ]
    assert all(e["by_you"] for e in data["completion_events"])
    assert data["trigger_deployments"][0]["pipedream_id"] == "dc_alice"
    assert data["trigger_deliveries"][0]["event_id"] == "evt_alice"
    assert data["staff_try_it"][0]["result"] == {"note": "alice met"}
    assert data["staff_dry_runs"][0]["note"] == "alice would"
    (change,) = data["admin_history"]
    assert change["change_message"] == "Changed the address of alice."
    assert data["staff_work"] == dict.fromkeys(data["staff_work"], 0)
    assert "staff-alice" not in body.decode()  # who changed it is the staff user's
    # Nothing of bob's: no string he is named by, no id of his.
    text = body.decode()
    assert BOB not in text
    assert str(bob.external_id) not in text
    assert "bob-password" not in text


def test_no_secret_is_in_the_file(alice_client, alice, claim):
    _, body = download(alice_client)
    text = body.decode()

    deployment = TriggerDeployment.objects.get(member=alice)
    secrets = [
        *secrets_of("alice").values(),
        *ConnectSession.objects.filter(member=alice).values_list("token_digest", flat=True),
        alice.password,
        alice.password.split("$")[-1],  # the hash itself
        CLAIM_PASSWORD,
        claim.password_encrypted,
        STORE_SECRET,
        claim.store_secret_encrypted,
        deployment.signing_key_encrypted,
    ]
    assert "connect-demo" not in text
    for secret in secrets:
        assert secret and secret not in text, secret
    assert "password" not in json.loads(body)["member"]


def test_every_model_keyed_by_the_member_is_covered_or_excluded_with_a_reason(alice_client):
    """A new model with a foreign key to the member must be added to the export (or to
    EXCLUDED, saying why) before this passes."""
    found = set()
    for model in django_apps.get_models(include_auto_created=True):
        for field in model._meta.concrete_fields:
            if field.is_relation and field.related_model is User:
                found.add(f"{model._meta.label}.{field.name}")
    assert found == set(data_export.COVERED) | set(data_export.EXCLUDED)
    assert not set(data_export.COVERED) & set(data_export.EXCLUDED)
    assert all(reason.strip() for reason in data_export.EXCLUDED.values())
    data = json.loads(download(alice_client)[1])
    assert set(data_export.COVERED.values()) <= set(data)


def test_every_field_of_an_exported_model_is_in_the_file_or_left_out_with_a_reason(
    alice_client, alice
):
    for name, spec in data_export.SPECS.items():
        fields = {field.name for field in spec.model._meta.concrete_fields}
        through = {path.split("__")[0] for path in spec.related.values()}
        assert fields == set(spec.fields) | set(spec.omitted) | through, name
    member = json.loads(download(alice_client)[1])["member"]
    fields = {field.name for field in User._meta.concrete_fields}
    assert fields - set(data_export.MEMBER_OMITTED) <= set(member)


def test_queries_do_not_grow_with_the_rows(client, django_user_model, claim, github):
    """One query per section, whether a member has one row of each kind or many."""
    counts = []
    for tag, rows in (("few", 1), ("many", 6)):
        member = verify_email(
            django_user_model.objects.create_user(username=tag, password="connect-demo")
        )
        seed(member, claim, github, tag, events=rows * 5, rows=rows)
        client.force_login(member)
        reauthenticate(client)
        with CaptureQueriesContext(connection) as queries:
            response, body = download(client)
        assert response.status_code == 200
        assert len(json.loads(body)["connected_accounts"]) == rows
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_many_events_are_written_in_bounded_memory(alice_client, alice):
    download(alice_client)  # what the first request imports is not the export's memory
    completion = Completion.objects.get(member=alice)
    CompletionEvent.objects.bulk_create(
        (
            CompletionEvent(
                completion=completion,
                to_state="checking",
                details={"note": f"{n} " + "x" * 1000},
                **Actor.worker().fields(),
            )
            for n in range(3000)
        ),
        batch_size=500,
    )
    tracemalloc.start()
    try:
        response = alice_client.post(DATA)
        size, events, tail = 0, 0, b""
        for chunk in response.streaming_content:  # read and dropped, as a browser saves it
            size += len(chunk)
            events += (tail + chunk).count(b'"to_state": "checking"')
            tail = chunk[-21:]  # a mark cut in two is counted once, with the next chunk
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert events == 3000
    assert size > 3_000_000
    assert peak < size / 2, (peak, size)


def test_a_visitor_is_sent_to_log_in(client):
    response = client.post(DATA)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_only_post_with_the_csrf_token(alice, alice_client):
    assert alice_client.get(DATA).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert strict.post(DATA).status_code == 403


def test_the_profile_offers_the_download(alice_client):
    page = alice_client.get("/profile/").content.decode()
    assert "Your data" in page
    assert f'action="{DATA}"' in page
    assert "Download my data" in page


def test_past_the_limit_the_page_says_when_to_try_again(alice_client):
    limit = data_export.RATE_LIMIT[0]
    for _ in range(limit):
        assert download(alice_client)[0].status_code == 200
    response = alice_client.post(DATA)

    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "Content-Disposition" not in response
    page = response.content.decode()
    assert f"You have downloaded your data {limit} times in a short time." in page
    assert "Try again in 60 minutes." in page


def test_a_deactivated_or_deleted_member_gets_nothing(alice_client, alice):
    User.objects.filter(pk=alice.pk).update(is_active=False)
    response = alice_client.post(DATA)
    assert response.status_code == 302 and response["Location"].startswith("/login/")

    User.objects.filter(pk=alice.pk).update(is_active=True)
    assert download(alice_client)[0].status_code == 200
    alice.delete()
    response = alice_client.post(DATA)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_file_name_keeps_only_safe_characters(client, django_user_model):
    member = django_user_model.objects.create_user(
        username='zoë"; filename=x.sh', password="connect-demo"
    )
    client.force_login(member)
    reauthenticate(client)
    response, body = download(client)

    today = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == (
        f'attachment; filename="connect-and-claim-zo____filename_x.sh-{today}.json"'
    )
    assert json.loads(body)["member"]["username"] == 'zoë"; filename=x.sh'


# --- review fixes: re-authentication, other people's data, staff's own notes ----------


def test_the_download_needs_a_recent_reauthentication_and_then_goes_on(client, alice, settings):
    client.force_login(alice)  # a session, but no password typed lately

    response = client.post(DATA)

    assert response.status_code == 302
    assert response["Location"] == "/reauthenticate/?next=%2Fprofile%2Fdata%2F"
    assert "Content-Disposition" not in response
    wrong = client.post(response["Location"], {"password": "not-hers"})
    assert wrong.status_code == 200 and "Content-Disposition" not in wrong
    # The right password: the POST she made is kept and answered with her file.
    done = client.post(response["Location"], {"password": "connect-demo"})
    assert done.status_code == 200
    assert done["Content-Disposition"].startswith('attachment; filename="connect-and-claim-alice-')
    body = b"".join(done.streaming_content)
    assert json.loads(body)["member"]["username"] == "alice"
    assert download(client)[0].status_code == 200  # within the next minutes: no question

    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 0  # the minutes have passed
    later = client.post(DATA)
    assert later.status_code == 302 and later["Location"].startswith("/reauthenticate/")


def test_what_a_trigger_sent_is_listed_without_the_people_it_names(alice_client, alice):
    """A member's trigger reports events on their account (a star, a message) that name
    other people: their body and the site's note about them stay out of the file."""
    deployment = TriggerDeployment.objects.get(member=alice)
    body = json.dumps({"starred_by": {"login": "carol-THIRDPARTY", "email": "c@THIRDPARTY"}})
    TriggerDelivery.objects.create(
        deployment=deployment,
        event_id="evt_star",
        body=body,
        body_digest="ab" * 32,
        body_size=len(body),
        detail="Events read: evt_star (carol-THIRDPARTY). A check of the member was asked for.",
        outcome=TriggerDelivery.Outcome.ACCEPTED,
    )

    _, file = download(alice_client)

    assert b"THIRDPARTY" not in file
    data = json.loads(file)
    star = next(row for row in data["trigger_deliveries"] if row["event_id"] == "evt_star")
    assert (star["outcome"], star["body_digest"], star["body_size"]) == (
        "accepted",
        "ab" * 32,
        len(body),
    )
    assert datetime.datetime.fromisoformat(star["received_at"])
    assert not {"body", "detail", "headers"} & set(star)
    assert any("other people" in sentence for sentence in data["not_included"])


def test_the_reason_staff_wrote_for_themselves_is_not_in_the_file(
    alice_client, alice, admin_client
):
    """Staff grant through the admin, whose form says members do not see their reason:
    the member's file lists the step and the sentence she was given, not staff's note."""
    User.objects.filter(pk=alice.pk).update(address="0x742d35cC6634c0532925A3b844bc9E7595F0beB1")
    second = Claim.objects.create(slug="second", name="Second", enabled=True)
    note = "Met it offline, says STAFFNOTE"
    granted = admin_client.post(
        "/admin/claims/completion/grant/",
        {"claim": second.pk, "member": "alice", "reason": note, "confirmed": alice.pk},
    )
    assert granted.status_code == 302, granted.content.decode()[:500]
    event = CompletionEvent.objects.get(completion__claim=second, reason="granted")
    assert event.details["staff_reason"] == note  # the ledger keeps it for staff

    _, file = download(alice_client)

    assert b"STAFFNOTE" not in file
    data = json.loads(file)
    (step,) = [e for e in data["completion_events"] if e["claim_slug"] == "second"]
    assert (step["reason"], step["actor_kind"], step["by_you"]) == ("granted", "staff", False)
    assert "actor" not in step  # nor which staff user it was: only that it was not her
    assert "staff_reason" not in step["details"] and step["details"]["address"]
    (completion,) = [c for c in data["completions"] if c["claim_slug"] == "second"]
    assert completion["reason"] == "Granted by the organiser: queued."
    assert any("staff wrote for themselves" in s for s in data["not_included"])
    for page in ("/claims/", "/c/second/"):  # nor does she read it anywhere on the site
        assert "STAFFNOTE" not in alice_client.get(page).content.decode()
