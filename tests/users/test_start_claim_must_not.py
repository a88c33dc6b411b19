"""A start claim the member was refused by a "must not" requirement is no place to send
them back to: nothing they do changes it. One they have not met yet still is. Through
the real engine: the Pipedream sandbox answers the check, the task worker runs it."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from claims.models import Completion
from tests.claims.claims_support import ALICE_ADDRESS, add_check, run_worker

pytestmark = pytest.mark.django_db

PASSWORD = "purple-Kettle-42-river"
START = "/c/github-starter/"


@pytest.mark.parametrize(
    ("group", "account", "lands"),
    [
        ("none", "octo-pro", "/"),  # has 20 or more public repositories: refused for good
        ("all", "octo", START),  # not 20 yet: more repositories would change the answer
    ],
)
def test_refused_by_a_must_not_requirement_the_claim_is_forgotten(
    client, make_claim, apps, connect, group, account, lands
):
    claim = make_claim("github-starter", apps=[apps["github"]])
    _repos_at_least(claim, apps, "20", group)
    _refused_then_login(client, claim, connect, account, lands)


def test_a_must_not_requirement_left_unchecked_refuses_nothing(client, make_claim, apps, connect):
    """Not 1000 repositories yet, so the "must not" one after it is not checked (its
    result reads failed, with no answer): more repositories could still earn it."""
    claim = make_claim("github-starter", apps=[apps["github"]])
    _repos_at_least(claim, apps, "1000", "all")
    _repos_at_least(claim, apps, "20", "none")
    _refused_then_login(client, claim, connect, "octo-pro", START)


def _repos_at_least(claim, apps, value, group):
    add_check(
        claim,
        apps["github"],
        action="github-get-current-user",
        path="user.public_repos",
        comparison="gte",
        value=value,
        group=group,
    )


def _refused_then_login(client, claim, connect, account, lands):
    client.post(
        "/signup/",
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "next": START,
        },
    )
    carol = get_user_model().objects.get(username="carol")
    assert carol.start_path == START
    Client().post(re.search(r"/confirm-email/\S+/", mail.outbox[-1].body).group(0))
    carol.address = ALICE_ADDRESS
    carol.save(update_fields=["address"])
    connect(carol, "github", account)
    checker = Client()
    checker.force_login(carol)  # not a login through the site: the start claim stays
    assert checker.post(f"{START}check/").status_code in (302, 303)
    run_worker()
    assert Completion.objects.get(claim=claim, member=carol).state == "ineligible"

    response = client.post("/login/", {"login": "carol", "password": PASSWORD})
    assert response["Location"] == lands
