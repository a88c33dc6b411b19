"""The typed audit trail: events say who (a kind, and the user for a person) and why; a
claim's rule changes are written down when the admin saves it, secrets only as changed,
and listed on the claim's page."""

import importlib
import json

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from claims import services
from claims.audit import Actor, ActorKind
from claims.models import Claim, ClaimRuleChange, Completion, CompletionEvent
from sandbox.bitbadges import stores as bb_sandbox
from tests.claims.admin_support import claim_form_data, form_errors, make_app, make_member
from tests.claims.claims_support import add_check, require

pytestmark = pytest.mark.django_db

Reason = CompletionEvent.Reason
NEW_SECRET = "rotated-store-secret-2b7f"


@pytest.fixture
def github():
    return make_app("github", "GitHub")


@pytest.fixture
def discord():
    return make_app("discord", "Discord")


@pytest.fixture
def claim(github):
    claim = Claim(slug="store", name="Store", delivery=Claim.Delivery.DYNAMIC_STORE, store_id="s")
    claim.set_store_secret("x")
    claim.save()
    require(claim, github)
    return claim


@pytest.fixture
def editor(client):
    """Staff with only the permissions to change claims and their requirements."""
    user = make_member("editor", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="claims",
            codename__in=[
                "change_claim",
                "add_requirement",
                "change_requirement",
                "delete_requirement",
                "view_requirement",
            ],
        )
    )
    client.force_login(user)
    return user


@pytest.fixture
def store_up(upstreams):
    """The sandbox's BitBadges with the store `s`; `store_up(secret)` changes its secret."""
    store = bb_sandbox.store_create(store_id="s", secret="x")

    def accept(secret):
        store.data_secret = secret
        store.save(update_fields=["data_secret"])

    return accept


# --- Completion events -------------------------------------------------------------------


def test_events_carry_the_actor_kind_the_user_and_a_reason(claim, github):
    alice = make_member("alice")
    admin = make_member("boss", is_staff=True)
    asked = services.completion_request(claim=claim, member=alice, actor=Actor.member(alice))
    Completion.objects.filter(pk=asked.pk).update(state=Completion.State.FAILED)
    assert services.admin_retry(completion=Completion.objects.get(pk=asked.pk), admin=admin)

    first, retry = CompletionEvent.objects.filter(completion=asked).select_related("actor")
    assert (first.actor_kind, first.actor, first.reason) == ("member", alice, Reason.REQUESTED)
    assert (retry.actor_kind, retry.actor, retry.reason) == ("staff", admin, Reason.FORCED)
    assert str(retry) == "failed → waiting by staff: boss"
    assert first.details == {} and retry.details == {}  # no more ad-hoc flags


def test_a_worker_event_names_no_user_and_says_why(claim):
    alice = make_member("alice")  # no GitHub account: not eligible
    completion = services.completion_request(
        claim=claim, member=alice, actor=Actor.signal("account connected")
    )
    services.completion_process(completion.pk)

    rows = list(
        CompletionEvent.objects.filter(completion=completion).values_list(
            "actor_kind", "actor", "actor_detail", "to_state", "reason"
        )
    )
    assert rows == [
        ("signal", None, "account connected", "waiting", Reason.REQUESTED),
        ("worker", None, "", "checking", Reason.TAKEN),
        ("worker", None, "", "ineligible", Reason.NOT_ELIGIBLE),
    ]


def test_an_actor_never_logs_a_username():
    alice = make_member("alice")
    assert str(Actor.member(alice)) == f"member #{alice.pk}"
    assert str(Actor.trigger("github-new-star", "evt_1")) == "trigger: github-new-star event evt_1"
    assert Actor.staff(alice, "claim enabled").fields() == {
        "actor_kind": ActorKind.STAFF,
        "actor_id": alice.pk,
        "actor_detail": "claim enabled",
    }


# --- Rule changes through the admin --------------------------------------------------------


def test_saving_a_claim_records_who_when_and_before_after(
    client, editor, claim, github, discord, store_up
):
    store_up(NEW_SECRET)  # the store's secret changed on BitBadges
    url = reverse("admin:claims_claim_change", args=[claim.pk])
    [stored] = claim.requirements.all()
    data = claim_form_data(
        claim,
        cap="10",
        requirements=[{"id": stored.pk, "app": github}, {"app": discord}],
        store_secret=NEW_SECRET,
    )
    response = client.post(url, data)
    assert response.status_code == 302, form_errors(response)

    change = ClaimRuleChange.objects.get()
    assert (change.claim, change.actor, change.actor_kind) == (claim, editor, "staff")
    github_account = {"group": "all", "app": "github", "kind": "account"}
    discord_account = {"group": "all", "app": "discord", "kind": "account"}
    assert change.changes == {
        "cap": [None, 10],
        "requirements": [[github_account], [github_account, discord_account]],
        "store_secret": "replaced",
    }
    assert NEW_SECRET not in json.dumps(change.changes)

    page = client.get(url).text
    assert "Rule changes" in page and "staff: editor" in page
    assert "dynamic store secret</strong>: replaced" in page
    assert "requirements</strong>:" in page
    assert NEW_SECRET not in page and claim.store_secret_encrypted not in page


def test_changing_or_removing_a_requirement_records_it(
    client, editor, claim, github, discord, settings
):
    """A requirement's check edited, another removed: the trail has the list before and
    after, with each one's fields."""
    # No sandbox is served: the save's read of the claim from BitBadges fails either
    # way, and without retries at once, not after 5 s of backoff.
    settings.BITBADGES_MAX_RETRIES = 0
    [account] = claim.requirements.all()
    check = add_check(
        claim,
        discord,
        proxy_url="https://discord.com/api/users/@me",
        path="id",
        comparison="truthy",
    )
    url = reverse("admin:claims_claim_change", args=[claim.pk])
    row = {
        "id": check.pk,
        "app": discord,
        "kind": "proxy",
        "proxy_url": check.proxy_url,
        "path": "verified",
        "comparison": "eq",
        "value": "true",
        "group": "any",
    }
    response = client.post(url, claim_form_data(claim, requirements=[row]))
    assert response.status_code == 302, form_errors(response)
    assert list(claim.requirements.all()) == [check]  # the account requirement is gone

    [change] = ClaimRuleChange.objects.all()
    proxy = {"app": "discord", "kind": "proxy", "proxy_url": check.proxy_url}
    assert change.changes == {
        "requirements": [
            [
                {"group": "all", "app": "github", "kind": "account"},
                {"group": "all", **proxy, "path": "id", "comparison": "truthy"},
            ],
            [{"group": "any", **proxy, "path": "verified", "comparison": "eq", "value": "true"}],
        ]
    }
    assert account.pk not in claim.requirements.values_list("pk", flat=True)


def test_the_newest_rule_change_is_listed_first(client, editor, claim, store_up):
    url = reverse("admin:claims_claim_change", args=[claim.pk])
    assert client.post(url, claim_form_data(claim, cap="3")).status_code == 302
    claim.refresh_from_db()
    assert client.post(url, claim_form_data(claim, cap="4")).status_code == 302

    assert [c.changes["cap"] for c in ClaimRuleChange.objects.all()] == [[3, 4], [None, 3]]
    page = client.get(url).text
    assert page.index("3 → 4") < page.index("— → 3")


def test_turning_on_one_completion_per_address_is_in_the_trail(client, editor, claim, store_up):
    url = reverse("admin:claims_claim_change", args=[claim.pk])
    response = client.post(url, claim_form_data(claim, one_completion_per_address="on"))
    assert response.status_code == 302

    (change,) = ClaimRuleChange.objects.all()
    assert change.changes == {"one_completion_per_address": [False, True]}


def test_saving_without_a_change_records_nothing(client, editor, claim, store_up):
    url = reverse("admin:claims_claim_change", args=[claim.pk])
    assert client.post(url, claim_form_data(claim)).status_code == 302
    assert not ClaimRuleChange.objects.exists()
    assert "No rule changes recorded yet." in client.get(url).text


def test_bad_input_writes_no_rule_change(client, editor, claim, github):
    url = reverse("admin:claims_claim_change", args=[claim.pk])
    [stored] = claim.requirements.all()
    bad = claim_form_data(
        claim,
        requirements=[{"id": stored.pk, "app": github, "kind": "action", "action": ""}],
        cap="-1",
        ends_at_0="x",
    )
    response = client.post(url, bad)
    errors = form_errors(response)
    assert {"cap", "ends_at", "action"} <= set(errors)
    assert not ClaimRuleChange.objects.exists()
    claim.refresh_from_db()
    assert claim.cap is None
    stored.refresh_from_db()
    assert stored.kind == "account"


def test_adding_a_claim_records_its_rules_and_that_a_secret_was_set(
    admin_client, admin_user, github, store_up
):
    store_up(NEW_SECRET)
    blank = Claim(slug="new", name="New", delivery=Claim.Delivery.DYNAMIC_STORE, store_id="s")
    data = claim_form_data(blank, requirements=[{"app": github}], store_secret=NEW_SECRET)
    assert admin_client.post(reverse("admin:claims_claim_add"), data).status_code == 302

    change = ClaimRuleChange.objects.get()
    assert change.actor == admin_user
    assert change.changes["slug"] == [None, "new"]
    assert change.changes["delivery"] == [None, "dynamic_store"]
    assert change.changes["requirements"] == [
        None,
        [{"group": "all", "app": "github", "kind": "account"}],
    ]
    assert change.changes["store_secret"] == "set"
    assert "password" not in change.changes
    assert NEW_SECRET not in json.dumps(change.changes)


def test_rule_changes_are_for_those_who_may_see_the_claim(client, claim):
    ClaimRuleChange.objects.create(
        claim=claim, changes={"cap": [None, 2]}, **Actor.command("seed_demo").fields()
    )
    url = reverse("admin:claims_claim_change", args=[claim.pk])
    nobody = make_member("nobody", is_staff=True)
    client.force_login(nobody)
    assert client.get(url).status_code == 403

    viewer = make_member("viewer", is_staff=True)
    viewer.user_permissions.set([Permission.objects.get(codename="view_claim")])
    client.force_login(viewer)
    page = client.get(url).text
    assert "command: seed_demo" in page and "— → 2" in page


def test_a_deleted_staff_users_changes_stay_without_their_name(client, claim):
    gone = make_member("gone-admin", is_staff=True)
    ClaimRuleChange.objects.create(
        claim=claim, changes={"enabled": [False, True]}, **Actor.staff(gone).fields()
    )
    gone.delete()
    change = ClaimRuleChange.objects.get()
    assert (change.actor_kind, change.actor) == ("staff", None)
    assert change.actor_display() == "staff: (deleted)"


# --- The data migration ------------------------------------------------------------------


def test_the_migration_reads_the_old_actor_strings():
    migration = importlib.import_module("claims.migrations.0004_typed_audit_trail")
    users = {"alice": 7, "bob": 8}
    read = {
        label: migration._actor(label, users)
        for label in (
            "worker",
            "member:alice",
            "member:(deleted)",
            "admin:bob",
            "admin: claim enabled",
            "signal: account connected",
            "schedule: recheck",
            "schedule: credits back",
            "command: complete_claims",
            "trigger: github-new-star event evt_9",
            "worker-7",
        )
    }
    assert read == {
        "worker": ("worker", None, ""),
        "member:alice": ("member", 7, ""),
        "member:(deleted)": ("member", None, ""),
        "admin:bob": ("staff", 8, ""),
        "admin: claim enabled": ("staff", None, "claim enabled"),
        "signal: account connected": ("signal", None, "account connected"),
        "schedule: recheck": ("schedule", None, "recheck"),
        "schedule: credits back": ("system", None, "credits back"),
        "command: complete_claims": ("command", None, "complete_claims"),
        "trigger: github-new-star event evt_9": ("trigger", None, "github-new-star event evt_9"),
        "worker-7": ("system", None, "worker-7"),
    }
    assert migration._reason({"force": True}) == ("forced", {})
    assert migration._reason(
        {"attempt": 2, "recovered": "the previous worker stopped while delivering"}
    ) == ("recovered", {"attempt": 2, "stopped_while": "delivering"})
    assert migration._reason({"error": "e", "outcome_unknown": True}) == (
        "outcome_unknown",
        {"error": "e"},
    )
    assert migration._reason({"error": "e", "outcome_unknown": False}) == ("", {"error": "e"})
