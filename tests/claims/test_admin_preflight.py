"""Saving a claim in the admin looks its BitBadges claim up first (the sandbox, over real
HTTP): a set-up that would fail every member is refused with what to change on BitBadges
and nothing is saved; what only might go wrong is saved with a warning."""

import pytest
import responses
from django.contrib.auth.models import Permission
from django.db import connection
from django.urls import reverse

from claims import services
from claims.models import Claim
from sandbox.bitbadges import attempts as bb_sandbox_attempts
from sandbox.bitbadges import claims as bb_sandbox_claims
from sandbox.bitbadges import credits as bb_sandbox_credits
from sandbox.bitbadges import stores as bb_sandbox_stores
from tests.claims.admin_support import claim_form_data, make_app, make_member

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def github(db):
    return make_app("github", "GitHub")


def add(admin_client, **fields):
    blank = Claim(slug="new", name="New", delivery=fields.pop("delivery", "bitbadges"))
    data = claim_form_data(blank, enabled=True, password_instance_id="pwd", **fields)
    return admin_client.post(reverse("admin:claims_claim_add"), data)


def errors(response) -> dict:
    assert response.status_code == 200, "the form should have been shown again"
    form = response.context["adminform"].form
    return {field: " ".join(messages) for field, messages in form.errors.items()}


def test_a_claim_set_up_right_saves(admin_client, github, upstreams):
    upstream = bb_sandbox_claims.claim_create(password="right")
    response = add(
        admin_client,
        requirements=[{"app": github}],
        bitbadges_claim_id=upstream.claim_id,
        password="right",
    )
    assert response.status_code == 302
    assert Claim.objects.get(slug="new").enabled


def test_a_password_plugin_of_another_instance_is_named(admin_client, github, upstreams):
    upstream = bb_sandbox_claims.claim_create(password="right", password_instance_id="secret-word")
    response = add(
        admin_client,
        requirements=[{"app": github}],
        bitbadges_claim_id=upstream.claim_id,
        password="right",
    )
    assert (
        "instance ID 'secret-word', not 'pwd': enter that"
        in errors(response)["password_instance_id"]
    )
    assert not Claim.objects.exists()


def test_a_wrong_password_is_found_before_any_member_is(admin_client, github, upstreams):
    upstream = bb_sandbox_claims.claim_create(password="right")
    response = add(
        admin_client,
        requirements=[{"app": github}],
        bitbadges_claim_id=upstream.claim_id,
        password="wrong",
    )
    assert "BitBadges says the password is wrong" in errors(response)["password"]
    assert bb_sandbox_attempts.complete_calls(upstream.claim_id) == 0  # simulated only
    assert not Claim.objects.exists()


@pytest.mark.parametrize("claim_id", ["ab" * 16, "../../storeActions/single", "z" * 64])
def test_an_unknown_or_malformed_claim_id_is_named(admin_client, github, upstreams, claim_id):
    response = add(
        admin_client, requirements=[{"app": github}], bitbadges_claim_id=claim_id, password="pw"
    )
    assert "BitBadges has no claim" in errors(response)["bitbadges_claim_id"]


def test_an_oversized_claim_id_never_reaches_bitbadges(admin_client, github, upstreams):
    used = bb_sandbox_credits.credits().used
    response = add(
        admin_client, requirements=[{"app": github}], bitbadges_claim_id="a" * 500, password="p"
    )
    assert "at most 100 characters" in errors(response)["bitbadges_claim_id"]
    assert bb_sandbox_credits.credits().used == used


def test_a_store_claim_needs_a_whitelist_and_the_right_secret(admin_client, github, upstreams):
    store = bb_sandbox_stores.store_create(secret="the-secret")
    unlisted = bb_sandbox_claims.claim_create(password="pw")  # no whitelist at all
    fields = dict(
        delivery="dynamic_store",
        requirements=[{"app": github}],
        store_id=store.dynamic_data_id,
        store_secret="the-secret",
    )
    response = add(admin_client, bitbadges_claim_id=unlisted.claim_id, **fields)
    assert "has no whitelist plugin" in errors(response)["store_id"]

    gated = bb_sandbox_claims.claim_create(store=store)
    response = add(
        admin_client, bitbadges_claim_id=gated.claim_id, **{**fields, "store_secret": "x"}
    )
    assert (
        "BitBadges refused the dynamic store: Invalid data secret"
        in errors(response)["store_secret"]
    )
    assert "x" not in errors(response)["store_secret"].split(": ")[-1].split()[0:1]
    response = add(admin_client, bitbadges_claim_id=gated.claim_id, **fields)
    assert response.status_code == 302


def test_a_store_claim_without_a_claim_id_saves_with_a_note(admin_client, github, upstreams):
    store = bb_sandbox_stores.store_create(secret="the-secret")
    response = add(
        admin_client,
        delivery="dynamic_store",
        requirements=[{"app": github}],
        store_id=store.dynamic_data_id,
        store_secret="the-secret",
    )
    assert response.status_code == 302
    page = admin_client.get(response.url).text
    assert "No BitBadges claim ID: the claim&#x27;s plugins cannot be checked" in page


def test_an_exhausted_claim_saves_with_a_warning(admin_client, github, upstreams):
    upstream = bb_sandbox_claims.claim_create(password="pw", max_uses=0)
    response = add(
        admin_client,
        requirements=[{"app": github}],
        bitbadges_claim_id=upstream.claim_id,
        password="pw",
    )
    assert response.status_code == 302
    page = admin_client.get(response.url).text
    assert "BitBadges would refuse a completion now:" in page
    assert "Overall max uses exceeded" in page


def test_bitbadges_down_blocks_enabling_but_not_a_draft(admin_client, github, upstreams, settings):
    upstream = bb_sandbox_claims.claim_create(password="pw")
    settings.SANDBOX_FAULTS = {"bitbadges.*": {"status": 503}}
    fields = dict(
        requirements=[{"app": github}], bitbadges_claim_id=upstream.claim_id, password="pw"
    )
    response = add(admin_client, **fields)
    problem = errors(response)["__all__"]
    assert "Could not check this claim on BitBadges" in problem
    assert "save it disabled" in problem
    assert not Claim.objects.exists()

    blank = Claim(slug="new", name="New", delivery="bitbadges")
    draft = claim_form_data(blank, password_instance_id="pwd", **fields)  # not enabled
    response = admin_client.post(reverse("admin:claims_claim_add"), draft)
    assert response.status_code == 302
    assert "Not checked on BitBadges" in admin_client.get(response.url).text


@responses.activate
def test_a_plugin_that_needs_the_members_session_is_refused(admin_client, github, settings):
    # The sandbox emulates no social plugins; BitBadges' claim document is given here.
    responses.add_passthru("http://testserver")
    settings.BITBADGES_API_URL = "https://api.bitbadges.test"
    claim_id = "ab" * 16
    plugin = {"version": "0", "publicParams": {}, "privateParams": {}, "publicState": {}}
    responses.get(
        f"https://api.bitbadges.test/api/v0/claim/{claim_id}",
        json={
            "claim": {
                "_includesPrivateParams": False,
                "claimId": claim_id,
                "version": "0",
                "plugins": [
                    {**plugin, "instanceId": "n", "pluginId": "numUses"},
                    {**plugin, "instanceId": "pwd", "pluginId": "password"},
                    {**plugin, "instanceId": "gh", "pluginId": "github"},
                ],
            }
        },
    )
    response = add(
        admin_client, requirements=[{"app": github}], bitbadges_claim_id=claim_id, password="pw"
    )
    assert "The BitBadges claim checks GitHub (github plugin)" in errors(response)["delivery"]


def test_the_lookup_runs_outside_the_save_transaction(admin_client, github, upstreams, monkeypatch):
    seen = []
    real = services.claim_problems

    def watched(*args, **kwargs):
        seen.append(connection.in_atomic_block)
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "claim_problems", watched)
    upstream = bb_sandbox_claims.claim_create(password="pw")
    response = add(
        admin_client,
        requirements=[{"app": github}],
        bitbadges_claim_id=upstream.claim_id,
        password="pw",
    )
    assert response.status_code == 302
    assert seen == [False]  # once, before the admin's transaction, and reused inside


def test_a_staff_member_who_may_not_change_claims_sends_nothing(client, github, upstreams):
    upstream = bb_sandbox_claims.claim_create(password="pw")
    claim = Claim.objects.create(
        slug="c",
        name="C",
        delivery="bitbadges",
        bitbadges_claim_id=upstream.claim_id,
        password_instance_id="pwd",
    )
    viewer = make_member("viewer", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_claim"))
    client.force_login(viewer)
    used = bb_sandbox_credits.credits().used
    url = reverse("admin:claims_claim_change", args=[claim.pk])
    response = client.post(
        url, claim_form_data(claim, password="pw", requirements=[{"app": github}])
    )
    assert response.status_code == 403
    assert bb_sandbox_credits.credits().used == used  # BitBadges was never asked
