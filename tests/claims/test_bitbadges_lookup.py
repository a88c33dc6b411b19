"""The BitBadges claim looked up by its ID while an admin fills the claim form
(GET /admin/claims/claim/bitbadges-lookup/): the sandbox's BitBadges over real HTTP."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from sandbox.bitbadges import claims as bb_sandbox_claims
from sandbox.bitbadges import credits as bb_sandbox_credits
from tests.claims.admin_support import make_member

pytestmark = pytest.mark.django_db(transaction=True)

URL = reverse("admin:claims_claim_bitbadges_lookup")


def lookup(client, **params):
    return client.get(URL, params)


def test_a_claim_is_shown_with_its_name_and_plugins(admin_client, upstreams):
    upstream = bb_sandbox_claims.claim_create(label="Builders badge", password="right")
    response = lookup(admin_client, id=upstream.claim_id)
    assert response.status_code == 200
    claim = response.json()["claim"]
    assert claim["name"] == "Builders badge"
    assert claim["id"] == upstream.claim_id
    assert {"id": "password", "instance": "pwd"}.items() <= claim["plugins"][
        [p["id"] for p in claim["plugins"]].index("password")
    ].items()
    assert response.json()["problems"] == []


def test_a_claim_that_would_fail_every_member_says_why(admin_client, upstreams):
    upstream = bb_sandbox_claims.claim_create(password="right", requires_sign_in=True)
    answer = lookup(
        admin_client, id=upstream.claim_id, delivery="bitbadges", password_instance_id="pwd"
    ).json()
    texts = " ".join(problem["text"] for problem in answer["problems"])
    assert "requires sign-in" in texts
    other = lookup(
        admin_client, id=upstream.claim_id, delivery="bitbadges", password_instance_id="other"
    ).json()
    assert any(p["field"] == "password_instance_id" for p in other["problems"])
    # A store claim without a whitelist plugin.
    store = lookup(
        admin_client, id=upstream.claim_id, delivery="dynamic_store", store_id="s1"
    ).json()
    assert any("whitelist" in p["text"] for p in store["problems"])


def test_an_unknown_claim_is_a_404_with_a_sentence(admin_client, upstreams):
    response = lookup(admin_client, id="no-such-claim")
    assert response.status_code == 404
    assert "BitBadges has no claim 'no-such-claim'" in response.json()["problem"]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"id": ""},
        {"id": "x" * 101},
        {"id": "a b"},
        {"id": "ab\x00c"},
        {"id": "abc", "delivery": "carrier-pigeon"},
    ],
)
def test_bad_input_is_a_400_with_a_sentence(admin_client, upstreams, params):
    response = lookup(admin_client, **params)
    assert response.status_code == 400
    assert response.json()["problem"].endswith(".")


def test_bitbadges_out_of_credits_is_a_503_not_a_500(admin_client, upstreams):
    upstream = bb_sandbox_claims.claim_create(password="right")
    bb_sandbox_credits.credits_set(0)
    response = lookup(admin_client, id=upstream.claim_id)
    assert response.status_code == 503
    assert "try again" in response.json()["problem"]


def test_only_staff_who_edit_claims_may_look_up(client, upstreams):
    upstream = bb_sandbox_claims.claim_create(password="right")
    viewer = make_member("viewer", is_staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_claim"))
    client.force_login(viewer)
    assert lookup(client, id=upstream.claim_id).status_code == 403
    member = make_member("someone")
    client.force_login(member)
    assert lookup(client, id=upstream.claim_id).status_code == 302  # to the admin's login
    editor = make_member("editor", is_staff=True)
    editor.user_permissions.set(Permission.objects.filter(codename="change_claim"))
    client.force_login(editor)
    assert lookup(client, id=upstream.claim_id).status_code == 200
