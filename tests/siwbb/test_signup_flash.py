"""After a sign-up with BitBadges the newcomer is told a new account was made for their
address, and, when another account here has typed that address, how to keep to that one
(a typed address proves nothing, so the two are never joined by themselves)."""

import pytest
from django.contrib.auth import get_user_model

from tests.members_support import verify_email
from tests.siwbb.siwbb_support import (
    ALICE_0X,
    ALICE_BB,
    ALICE_EIP55,
    messages_of,
    page_text,
    sign_in,
)

pytestmark = pytest.mark.django_db(transaction=True)

MADE = f"We made a new account here for {ALICE_EIP55}."
OTHER = "another account here already uses this address"


def test_a_newcomer_is_told_a_new_account_was_made(client, siwbb):
    response = sign_in(client, address=ALICE_0X)
    assert messages_of(response) == [MADE]
    assert MADE in page_text(client.get(response["Location"]))
    client.logout()
    assert not any("new account" in said for said in messages_of(sign_in(client)))  # a log-in


@pytest.mark.parametrize("typed", [ALICE_EIP55, ALICE_BB])
def test_an_account_that_typed_the_address_is_named_with_the_way_to_keep_to_it(
    client, siwbb, django_user_model, typed
):
    bob = django_user_model.objects.create_user(username="bob", password="bob-Pa55word-long")
    bob.address = typed
    verify_email(bob, "bob@example.com").save()
    [said] = messages_of(sign_in(client, address=ALICE_0X))
    assert said.startswith(f"We made a new account here for {ALICE_EIP55}, but {OTHER}.")
    assert "log out, log in to it with its password and connect BitBadges" in said
    assert "bob" not in said and said.count(". ") == 1
    assert get_user_model().objects.count() == 2
    bob.refresh_from_db()
    assert bob.address == typed and not bob.address_proven
