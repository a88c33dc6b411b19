"""A newcomer signs up with BitBadges from a claim page, against the sandbox over HTTP:
they land back on the claim with its next step (connect the app), with no password and
no address typed, and the claim page is kept as their start claim, as a password
sign-up's is: their next login with no `next` of its own lands there once more, then it
is forgotten. Only a local claim page is ever kept or landed on."""

import re

import pytest
from django.contrib.auth import get_user_model

from tests.siwbb.siwbb_support import ALICE_EIP55, at_bitbadges, back, sign_in, start

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/c/github-starter/"


@pytest.fixture
def starter(siwbb_sandbox, apps, make_claim):
    return make_claim("github-starter", apps=[apps["github"]])


def the_button(client) -> dict:
    """The claim page's BitBadges form, as a newcomer's browser reads it."""
    page = client.get(URL).content.decode()
    form = re.search(r'<form[^>]*action="([^"]+)"[^>]*class="siwbb-form">(.*?)</form>', page, re.S)
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form.group(2)))
    assert form.group(1) == "/auth/bitbadges/login/"
    return fields


def member():
    return get_user_model().objects.get()


def test_a_newcomer_signs_up_from_the_claim_and_lands_on_its_next_step(client, starter):
    button = the_button(client)
    assert (button["process"], button["next"]) == ("login", URL)
    landed = sign_in(client, next_url=button["next"])
    assert landed.status_code == 302 and landed["Location"] == URL
    bea = member()
    assert bea.address == ALICE_EIP55 and bea.address_proven
    assert not bea.has_usable_password()
    assert bea.start_path == URL  # kept, as a password sign-up's is
    page = client.get(URL).content.decode()
    assert 'data-step="connect"' in page and "Connect your GitHub account." in page
    assert "siwbb-form" not in page  # signed in: no button, no email step
    # The next login with no `next` of its own lands on the claim once, then home.
    client.logout()
    assert sign_in(client)["Location"] == URL
    assert member().start_path == ""
    client.logout()
    assert sign_in(client)["Location"] == "/"


def test_the_start_claim_is_not_followed_once_the_claim_is_switched_off(client, starter):
    sign_in(client, next_url=URL)
    assert member().start_path == URL
    starter.enabled = False
    starter.save(update_fields=["enabled"])
    client.logout()
    assert sign_in(client)["Location"] == "/"
    assert member().start_path == ""


@pytest.mark.parametrize(
    "hostile",
    [
        "https://evil.example/c/github-starter/",
        "//evil.example/c/github-starter/",
        "/\\evil.example/",
        "javascript:alert(1)",
        "/c/github-starter/%2F..%2Fadmin/",
        "/c/" + "x" * 400 + "/",
    ],
)
def test_a_hostile_next_is_neither_followed_nor_kept(client, starter, hostile):
    location = back(client, at_bitbadges(start(client, next_url=hostile)))["Location"]
    assert "evil.example" not in location and "javascript" not in location
    assert location.startswith("/")
    assert member().start_path == ""


def test_a_local_page_that_is_not_a_claim_is_followed_but_not_kept(client, starter):
    assert sign_in(client, next_url="/accounts/")["Location"] == "/accounts/"
    assert member().start_path == ""


def test_logging_in_from_a_claim_page_keeps_nothing_for_a_proven_member(client, starter):
    """A member who is confirmed already lands on the claim: nothing to keep."""
    sign_in(client)
    client.logout()
    assert sign_in(client, next_url=URL)["Location"] == URL
    assert member().start_path == ""
