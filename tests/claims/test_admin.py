"""The claims admin through the test client: claims (secrets write-only), dry run, the
ledger (read-only, Retry). The funnel's tests are in test_funnel.py."""

import itertools

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from claims.audit import Actor
from claims.models import Claim, ClaimJob, Completion, CompletionEvent
from connections.models import ConnectedAccount
from sandbox.bitbadges import claims as bb_sandbox_claims
from sandbox.bitbadges import stores as bb_sandbox_stores
from tests.claims.admin_support import claim_form_data, form_errors, make_app, make_member
from tests.claims.claims_support import require

pytestmark = pytest.mark.django_db

ADDRESS = "0x742d35cc6634c0532925a3b844bc9e7595f0beb1"
_numbers = itertools.count(1)
# The BitBadges claim the `bitbadges` claims here stand for (made in the sandbox by
# `bitbadges_up`: saving a claim looks it up there).
BB_CLAIM = "c1a1"


# --- Building blocks ---------------------------------------------------------------------


def connect(member, app):
    return ConnectedAccount.objects.create(
        member=member, app=app, pipedream_id=f"apn_{next(_numbers)}", name=member.username
    )


def make_claim(slug="starter", apps=(), **fields):
    fields.setdefault("delivery", Claim.Delivery.DYNAMIC_STORE)
    fields.setdefault("store_id", "s")
    claim = Claim(slug=slug, name=fields.pop("name", slug.title()), **fields)
    if claim.delivery == Claim.Delivery.DYNAMIC_STORE:
        claim.set_store_secret("x")
    claim.full_clean()
    claim.save()
    require(claim, *apps)
    return claim


def complete(claim, member, state, **fields):
    if state == Completion.State.COMPLETED:
        fields.setdefault("completed_at", timezone.now())
    return Completion.objects.create(claim=claim, member=member, state=state, **fields)


def messages_of(response) -> str:
    return " ".join(str(message) for message in response.context["messages"])


@pytest.fixture
def github():
    return make_app("github", "GitHub")


@pytest.fixture
def bitbadges_up(upstreams):
    """The sandbox's BitBadges over HTTP, with what the claims below stand for: the store
    `s` (secret `x`) and the password-gated claim BB_CLAIM (password plugin `pw-plugin`).
    `bitbadges_up(password=..., store_secret=...)` sets what BitBadges will accept."""
    store = bb_sandbox_stores.store_create(store_id="s", secret="x")
    claim = bb_sandbox_claims.claim_create(
        claim_id=BB_CLAIM, password="p", password_instance_id="pw-plugin"
    )

    def accept(*, password=None, store_secret=None):
        if password is not None:
            claim.password = password
            claim.save(update_fields=["password"])
        if store_secret is not None:
            store.data_secret = store_secret
            store.save(update_fields=["data_secret"])

    return accept


@pytest.fixture
def staff_viewer(client):
    """Staff with only the view permissions of the claims app."""
    user = make_member("viewer", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__startswith="view_"))
    client.force_login(user)
    return user


# --- Claims: the list ----------------------------------------------------------------------


def _changelist_rows(admin_client):
    response = admin_client.get(reverse("admin:claims_claim_changelist"))
    assert response.status_code == 200
    return {claim.slug: claim for claim in response.context["cl"].result_list}


def test_list_counts_completions_per_state(admin_client, github):
    claim = make_claim("starter", [github])
    other = make_claim("other", [github])
    states = ["completed", "completed", "waiting", "checking", "retrying", "ineligible", "failed"]
    for index, state in enumerate(states):
        complete(claim, make_member(f"m{index}"), state)
    complete(other, get_user_model().objects.get(username="m0"), "failed")

    rows = _changelist_rows(admin_client)

    starter = rows["starter"]
    assert (starter.n_completed, starter.n_in_progress) == (2, 3)
    assert (starter.n_ineligible, starter.n_failed) == (1, 1)
    assert (rows["other"].n_completed, rows["other"].n_failed) == (0, 1)


def test_list_runs_a_constant_number_of_queries(admin_client, github):
    url = reverse("admin:claims_claim_changelist")
    make_claim("one", [github])
    admin_client.get(url)  # warm the session and content types
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    for index in range(4):
        claim = make_claim(f"more-{index}", [github])
        complete(claim, make_member(f"x{index}"), "failed")
    with CaptureQueriesContext(connection) as many:
        response = admin_client.get(url)
    assert len(response.context["cl"].result_list) == 5
    assert len(many) == len(few)


# --- Claims: secrets are write-only ------------------------------------------------------


def test_secrets_never_appear_in_the_admin(admin_client, github, bitbadges_up):
    bitbadges_up(password="another-new-password")
    claim = make_claim(
        "badge",
        [github],
        delivery=Claim.Delivery.BITBADGES,
        bitbadges_claim_id=BB_CLAIM,
        password_instance_id="pw-plugin",
    )
    claim.set_password("correct-horse-battery")
    claim.set_store_secret("store-secret-value")
    claim.save()
    secrets = [
        "correct-horse-battery",
        "store-secret-value",
        claim.password_encrypted,
        claim.store_secret_encrypted,
    ]

    change = admin_client.get(reverse("admin:claims_claim_change", args=[claim.pk]))
    assert "A password is stored" in change.text
    assert "A store secret is stored" in change.text
    assert "password_encrypted" not in change.context["adminform"].form.fields

    # A save (which writes the history) with a new password typed in.
    admin_client.post(
        reverse("admin:claims_claim_change", args=[claim.pk]),
        claim_form_data(claim, password="another-new-password"),
    )
    claim.refresh_from_db()
    assert claim.password() == "another-new-password"
    secrets += ["another-new-password", claim.password_encrypted]

    pages = [
        reverse("admin:claims_claim_change", args=[claim.pk]),
        reverse("admin:claims_claim_changelist"),
        reverse("admin:claims_claim_history", args=[claim.pk]),
    ]
    for url in pages:
        text = admin_client.get(url).text
        for secret in secrets:
            assert secret not in text, (url, secret)


def test_blank_keeps_the_stored_secret_and_clear_removes_it(admin_client, github, bitbadges_up):
    claim = make_claim("store", [github])
    claim.set_password("kept-password")
    claim.save()
    url = reverse("admin:claims_claim_change", args=[claim.pk])

    response = admin_client.post(url, claim_form_data(claim, description="Changed"))
    assert response.status_code == 302
    claim.refresh_from_db()
    assert claim.description == "Changed"
    assert claim.store_secret() == "x" and claim.password() == "kept-password"

    response = admin_client.post(url, claim_form_data(claim, clear_password=True))
    assert response.status_code == 302
    claim.refresh_from_db()
    assert not claim.has_password and claim.store_secret() == "x"
    assert "None stored" in admin_client.get(url).text


def test_a_new_secret_replaces_the_old_one(admin_client, github, bitbadges_up):
    bitbadges_up(store_secret="new-secret")  # the store's secret changed on BitBadges
    claim = make_claim("store", [github])
    url = reverse("admin:claims_claim_change", args=[claim.pk])
    admin_client.post(url, claim_form_data(claim, store_secret="new-secret"))
    claim.refresh_from_db()
    assert claim.store_secret() == "new-secret"


def test_the_method_needs_its_secret(admin_client, github, bitbadges_up):
    add = reverse("admin:claims_claim_add")
    blank = Claim(slug="new", name="New", delivery=Claim.Delivery.BITBADGES)
    data = claim_form_data(
        blank,
        requirements=[{"app": github}],
        bitbadges_claim_id=BB_CLAIM,
        password_instance_id="pw-plugin",
    )
    response = admin_client.post(add, data)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["password"] == [
        "The BitBadges method needs the password plugin's password: type it here."
    ]
    assert not Claim.objects.filter(slug="new").exists()

    response = admin_client.post(
        add, {**data, "delivery": "dynamic_store", "store_id": "s", "password": "p"}
    )
    assert response.context["adminform"].form.errors["store_secret"] == [
        "The dynamic store method needs the store's secret: type it here."
    ]

    response = admin_client.post(add, {**data, "password": "p"})
    assert response.status_code == 302
    assert Claim.objects.get(slug="new").password() == "p"


def test_clearing_the_secret_the_method_needs_is_refused(admin_client, github):
    claim = make_claim("store", [github])
    url = reverse("admin:claims_claim_change", args=[claim.pk])
    response = admin_client.post(url, claim_form_data(claim, clear_store_secret=True))
    assert response.status_code == 200
    assert "needs the store&#x27;s secret" in response.text
    response = admin_client.post(
        url, claim_form_data(claim, clear_store_secret=True, store_secret="y")
    )
    assert "not both" in response.text
    claim.refresh_from_db()
    assert claim.store_secret() == "x"


def test_the_models_own_rules_are_enforced(admin_client, github):
    claim = make_claim("store", [github])
    url = reverse("admin:claims_claim_change", args=[claim.pk])
    data = claim_form_data(
        claim,
        requirements=[{"app": github, "action": "a"}],
        store_id="",
        trigger="github-new-star",
    )
    errors = form_errors(admin_client.post(url, data))
    assert errors["store_id"] == "The dynamic store method needs the store ID."
    assert errors["trigger_app"] == "A trigger runs on an account of one of the claim's apps."
    # The requirement's: an account requirement runs no action.
    assert errors["action"] == "Only an action or a proxy read has this: the check is an account."
    claim.refresh_from_db()
    assert (claim.store_id, claim.trigger) == ("s", "")
    assert [(r.kind, r.action) for r in claim.requirements.all()] == [("account", "")]


def test_saving_an_enabled_claim_queues_discovery(
    admin_client, github, bitbadges_up, django_capture_on_commit_callbacks
):
    claim = make_claim("store", [github])
    url = reverse("admin:claims_claim_change", args=[claim.pk])
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, claim_form_data(claim))
    assert not DBTaskResult.objects.exists()  # not enabled: nothing to discover

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, claim_form_data(claim, enabled=True))
    task = DBTaskResult.objects.get()
    assert task.task_path == "claims.tasks.claim_discover_task"
    assert task.args_kwargs["args"] == [claim.pk]


# --- Claims: dry run (a job: what it finds is in test_dry_run_jobs.py) ----------------------


def test_dry_run_from_the_claims_page(admin_client, github):
    claim = make_claim("starter", [github])
    response = admin_client.post(
        reverse("admin:claims_claim_change", args=[claim.pk]),
        {"CHANGE_FORM-action": "dry_run", ACTION_CHECKBOX_NAME: [claim.pk], "index": 0},
    )
    job = ClaimJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:claims_claimjob_change", args=[job.pk])
    assert job.claim == claim


def test_dry_run_takes_a_few_claims_at_a_time(admin_client, github):
    claims = [make_claim(f"c{index}", [github]) for index in range(6)]
    response = admin_client.post(
        reverse("admin:claims_claim_changelist"),
        {"action": "dry_run", ACTION_CHECKBOX_NAME: [c.pk for c in claims], "index": 0},
        follow=True,
    )
    assert "at most 5 claims at a time; 6 were selected" in messages_of(response)


# --- The ledger -----------------------------------------------------------------------------


@pytest.fixture
def ledger(github):
    claim = make_claim("starter", [github])
    failed = complete(claim, make_member("bob", address=ADDRESS), "failed", reason="Boom.")
    done = complete(claim, make_member("carol"), "completed")
    return {"claim": claim, "failed": failed, "done": done}


def test_retry_action_requeues_failed_and_skips_completed(admin_client, ledger):
    failed, done = ledger["failed"], ledger["done"]
    response = admin_client.post(
        reverse("admin:claims_completion_changelist"),
        {"action": "retry", ACTION_CHECKBOX_NAME: [failed.pk, done.pk], "index": 0},
        follow=True,
    )
    text = messages_of(response)
    assert "Queued 1 completion(s)" in text and "Skipped 1 completion(s)" in text
    failed.refresh_from_db()
    done.refresh_from_db()
    assert failed.state == "waiting" and done.state == "completed"
    event = CompletionEvent.objects.get(completion=failed)
    assert (event.from_state, event.to_state, event.actor_kind, event.actor.username) == (
        "failed",
        "waiting",
        "staff",
        "admin",
    )
    assert not CompletionEvent.objects.filter(completion=done).exists()


def test_retry_button_on_a_failed_completion(admin_client, ledger):
    failed = ledger["failed"]
    change = reverse("admin:claims_completion_change", args=[failed.pk])
    retry = reverse("admin:claims_completion_retry", args=[failed.pk])
    assert retry in admin_client.get(change).text
    done_page = admin_client.get(
        reverse("admin:claims_completion_change", args=[ledger["done"].pk])
    )
    assert "/retry/" not in done_page.text

    assert admin_client.get(retry).status_code == 405
    response = admin_client.post(retry)
    assert response.status_code == 302 and response.url == change
    failed.refresh_from_db()
    assert failed.state == "waiting"
    assert CompletionEvent.objects.get(completion=failed).actor_display() == "staff: admin"


@pytest.mark.parametrize("object_id", ["abc", "999999", "1%2F2"])
def test_retry_of_no_such_completion_changes_nothing_and_never_500s(
    admin_client, ledger, object_id
):
    # A number that names no row is a 404; anything else falls through to the admin's
    # own "no such object" handling (a redirect), as for any admin URL.
    response = admin_client.post(f"/admin/claims/completion/{object_id}/retry/")
    assert response.status_code == (404 if object_id.isdigit() else 302)
    ledger["failed"].refresh_from_db()
    assert ledger["failed"].state == "failed"
    assert not CompletionEvent.objects.exists()


def test_retry_button_needs_the_change_permission(client, staff_viewer, ledger):
    retry = reverse("admin:claims_completion_retry", args=[ledger["failed"].pk])
    assert client.post(retry).status_code == 403
    page = client.get(reverse("admin:claims_completion_change", args=[ledger["failed"].pk]))
    assert page.status_code == 200 and retry not in page.text
    ledger["failed"].refresh_from_db()
    assert ledger["failed"].state == "failed"


def test_retry_button_refuses_a_missing_csrf_token(ledger):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw-12345678")
    client.force_login(admin)
    assert (
        client.post(
            reverse("admin:claims_completion_retry", args=[ledger["failed"].pk])
        ).status_code
        == 403
    )


def test_the_ledger_is_read_only(admin_client, ledger):
    failed = ledger["failed"]
    add = reverse("admin:claims_completion_add")
    assert admin_client.get(add).status_code == 403
    assert (
        admin_client.post(add, {"claim": ledger["claim"].pk, "state": "completed"}).status_code
        == 403
    )
    assert Completion.objects.count() == 2
    delete = reverse("admin:claims_completion_delete", args=[failed.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    change = reverse("admin:claims_completion_change", args=[failed.pk])
    assert admin_client.post(change, {"state": "completed"}).status_code == 403
    failed.refresh_from_db()
    assert failed.state == "failed"
    actions = (
        admin_client.get(reverse("admin:claims_completion_changelist"))
        .context["action_form"]
        .fields["action"]
        .choices
    )
    # Retry, and exporting (reads only): nothing deletes or edits rows.
    assert [name for name, _ in actions if name] == ["retry", "export_csv"]

    event = CompletionEvent.objects.create(
        completion=failed, to_state="failed", **Actor.worker().fields()
    )
    assert admin_client.get(reverse("admin:claims_completionevent_add")).status_code == 403
    delete = reverse("admin:claims_completionevent_delete", args=[event.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403


def test_ledger_pages_show_evidence_events_and_deleted_members(admin_client, ledger):
    failed = ledger["failed"]
    failed.evidence = [
        {
            "rule": "app:github",
            "label": "GitHub connected",
            "passed": False,
            "value": "0 accounts",
            "detail": "Connect your <GitHub> account.",
            "at": "2026-01-02T03:04:05+00:00",
        }
    ]
    failed.save()
    CompletionEvent.objects.create(
        completion=failed,
        from_state="checking",
        to_state="failed",
        actor_kind="worker",
        actor_detail="worker-7",
    )
    page = admin_client.get(reverse("admin:claims_completion_change", args=[failed.pk])).text
    assert "<th>Value seen</th>" in page and "0 accounts" in page
    assert "Connect your &lt;GitHub&gt; account." in page  # escaped
    assert "worker-7" in page

    ledger["done"].member.delete()
    listing = admin_client.get(reverse("admin:claims_completion_changelist"))
    assert "(deleted member)" in listing.text
    for params in ({"state": "failed"}, {"q": "bob"}, {"claim__delivery": "dynamic_store"}):
        assert (
            admin_client.get(reverse("admin:claims_completion_changelist"), params).status_code
            == 200
        )
    events = admin_client.get(reverse("admin:claims_completionevent_changelist"), {"q": "worker-7"})
    assert "worker-7" in events.text
