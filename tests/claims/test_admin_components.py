"""Saving a claim in the admin looks its Pipedream components up first (the sandbox, over
real HTTP): a requirement's action or the trigger Pipedream does not know, one for another app, or
one missing a prop its definition requires is refused with Pipedream's reason, and
nothing is saved."""

import json

import pytest
from django.urls import reverse

from claims.models import Claim, Requirement
from tests.claims.admin_support import claim_form_data, form_errors, make_app, post_new_claim

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def github(db):
    return make_app("github", "GitHub")


CHECK = {
    "kind": "action",
    "action": "github-get-current-user",
    "path": "user.public_repos",
    "comparison": "gte",
    "value": "5",
}


def add(admin_client, app, *, check=None, trigger_props=None, enabled=True, **fields):
    """The add form with one requirement running an action on `app` (CHECK, `check` over
    it), the trigger (on `app` when there is one) and `fields` on the claim."""
    if fields.get("trigger"):
        fields.setdefault("trigger_app", app.pk)
    return post_new_claim(
        admin_client,
        app,
        requirement={**CHECK, **(check or {})},
        enabled=enabled,
        trigger_props=json.dumps(trigger_props or {}),
        **fields,
    )


errors = form_errors


def nothing_saved():
    return not Claim.objects.exists() and not Requirement.objects.exists()


def test_a_claim_on_real_components_saves(admin_client, github, upstreams):
    response = add(
        admin_client,
        github,
        trigger="github-new-star",
        trigger_props={"repoFullname": "bitbadges/bitbadgesjs"},
    )
    assert response.status_code == 302
    claim = Claim.objects.get(slug="new")
    assert claim.trigger_props == {"repoFullname": "bitbadges/bitbadgesjs"}


def test_an_unknown_action_is_refused_with_pipedreams_reason(
    admin_client, github, upstreams, settings
):
    # An operator listed a key Pipedream does not know (a typo, a retired component).
    settings.CLAIMS_READ_COMPONENTS = (*settings.CLAIMS_READ_COMPONENTS, "github-check-star")
    response = add(admin_client, github, check={"action": "github-check-star"})
    said = errors(response)["action"]
    assert "Pipedream has no component 'github-check-star'" in said
    assert "it says:" in said  # Pipedream's own words follow
    assert nothing_saved()


def test_an_unknown_trigger_is_refused(admin_client, github, upstreams, settings):
    settings.CLAIMS_READ_COMPONENTS = (*settings.CLAIMS_READ_COMPONENTS, "discord-new-member")
    response = add(admin_client, github, trigger="discord-new-member")
    assert "Pipedream has no component 'discord-new-member'" in errors(response)["trigger"]
    assert nothing_saved()


@pytest.mark.parametrize("props", [{}, {"repo": "bitbadges/bitbadgesjs"}])
def test_a_trigger_missing_a_required_prop_is_refused(admin_client, github, upstreams, props):
    response = add(admin_client, github, trigger="github-new-star", trigger_props=props)
    said = errors(response)["trigger_props"]
    assert "github-new-star needs the prop repoFullname" in said
    assert nothing_saved()


def test_an_action_missing_a_required_prop_is_refused(admin_client, github, upstreams):
    response = add(
        admin_client,
        github,
        check={"action": "github-get-repository", "path": "stargazers_count"},
    )
    assert "github-get-repository needs the prop repoFullname" in errors(response)["props"]
    assert nothing_saved()


def test_a_component_of_another_app_or_kind_is_refused(admin_client, github, upstreams):
    response = add(admin_client, github, check={"action": "slack-get-current-user"})
    assert "runs on a slack account, not GitHub" in errors(response)["action"]
    response = add(admin_client, github, trigger="github-get-current-user")
    assert "github-get-current-user is a action, not a trigger" in errors(response)["trigger"]
    assert nothing_saved()


def test_a_change_to_a_saved_claim_is_checked_too(admin_client, github, upstreams):
    assert add(admin_client, github).status_code == 302
    claim = Claim.objects.get(slug="new")
    data = claim_form_data(
        claim,
        trigger="github-new-star",
        trigger_app=github.pk,
        trigger_props="{}",
    )
    response = admin_client.post(reverse("admin:claims_claim_change", args=[claim.pk]), data)
    assert "needs the prop repoFullname" in errors(response)["trigger_props"]
    claim.refresh_from_db()
    assert claim.trigger == ""


def test_pipedream_down_blocks_enabling_but_not_a_draft(admin_client, github, upstreams, settings):
    settings.PIPEDREAM_API_URL = "http://127.0.0.1:9/sandbox/pipedream"  # nothing listens
    settings.PIPEDREAM_MAX_RETRIES = 0
    response = add(admin_client, github)
    assert "Could not look this claim's components up on Pipedream" in errors(response)["__all__"]
    assert nothing_saved()
    response = add(admin_client, github, enabled=False)
    assert response.status_code == 302
    assert not Claim.objects.get(slug="new").enabled
