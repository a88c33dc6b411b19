"""An address a member lists but never confirms claims nothing: its owner can still sign
up with it, and a password reset for it never names the lister's account. Sign-ups and
adds answer alike for new and registered addresses, and adding addresses is capped."""

import datetime
import re

import pytest
import time_machine
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import Client

from tests.members_support import verify_email
from tests.users.email_support import answer_of

pytestmark = pytest.mark.django_db

PASSWORD = "connect-demo"
NEW_PASSWORD = "purple-Kettle-42-river"
# A fixed morning, so that a test's minutes never cross a day's end.
MORNING = datetime.datetime(2026, 12, 7, 9, 0, tzinfo=datetime.UTC)
RESET_LINK = re.compile(r"/password/reset/key/")


@pytest.fixture
def bob(django_user_model):
    return verify_email(
        django_user_model.objects.create_user(
            username="bob", email="bob@example.com", password=PASSWORD
        )
    )


def bob_on_the_email_page():
    client = Client()
    assert client.post("/login/", {"login": "bob", "password": PASSWORD}).status_code == 302
    return reauthenticated(client)


def reauthenticated(client):
    assert client.post("/reauthenticate/", {"password": PASSWORD}).status_code == 302
    return client


def sign_up(username, email):
    client = Client()
    data = {"username": username, "email": email}
    response = client.post(
        "/signup/", {**data, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    page = client.get(response["Location"]).content.decode()
    return (
        response.status_code,
        response["Location"],
        sorted(response.cookies),
        "We sent a confirmation link" in page,
    )


def letters_to(email, since=0):
    return [m for m in mail.outbox[since:] if m.to == [email]]


def test_the_owner_of_a_squatted_address_still_signs_up(bob, django_capture_on_commit_callbacks):
    with time_machine.travel(MORNING, tick=False) as clock:
        client = bob_on_the_email_page()
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/email/", {"email": "victim@example.org", "action_add": ""})
        assert not EmailAddress.objects.get(email="victim@example.org").verified
        clock.shift(datetime.timedelta(minutes=4))  # past the address's link limit
        sent = len(mail.outbox)
        with django_capture_on_commit_callbacks(execute=True):
            answer = sign_up("victim", "victim@example.org")
    assert answer[:2] == (302, "/confirm-email/")
    victim = get_user_model().objects.get(username="victim")
    [link] = letters_to("victim@example.org", sent)
    assert "/confirm-email/" in link.body and "already have an account" not in link.body
    # The victim confirms first, and keeps the address.
    path = re.search(r"https?://[^/\s]+(/confirm-email/\S+)", link.body)[1]
    Client().post(path)
    assert EmailAddress.objects.get(user=victim, email="victim@example.org").verified
    assert not EmailAddress.objects.get(user=bob, email="victim@example.org").verified


def test_a_reset_never_sends_a_link_for_an_account_that_only_listed_the_address(
    bob, django_capture_on_commit_callbacks
):
    with time_machine.travel(MORNING, tick=False) as clock:
        client = bob_on_the_email_page()
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/email/", {"email": "victim@example.org", "action_add": ""})
        answers = []
        for email in ("victim@example.org", "nobody@example.net"):
            sent = len(mail.outbox)
            with django_capture_on_commit_callbacks(execute=True):
                response = Client().post("/password/reset/", {"email": email}, follow=True)
            answers.append((response.redirect_chain, response.status_code))
            [letter] = letters_to(email, sent)
            assert not RESET_LINK.search(letter.body) and "bob" not in letter.body
        # Listed unconfirmed or unknown: the same answer, and no link.
        assert answers[0] == answers[1]
        # Once the victim has an account with it, a reset names theirs, never bob's.
        clock.shift(datetime.timedelta(minutes=4))
        with django_capture_on_commit_callbacks(execute=True):
            sign_up("victim", "victim@example.org")
            sent = len(mail.outbox)
            Client().post("/password/reset/", {"email": "victim@example.org"})
    [letter] = letters_to("victim@example.org", sent)
    assert RESET_LINK.search(letter.body)
    assert "account victim." in letter.body and "bob" not in letter.body


def test_sign_up_after_an_add_and_remove_answers_alike_for_new_and_registered(
    member, bob, django_capture_on_commit_callbacks
):
    """An add primes the address's link limit; a sign-up then answers by it, new or not."""
    with time_machine.travel(MORNING, tick=False) as clock:
        client = bob_on_the_email_page()
        answers = {}
        for n, email in enumerate(["nobody@example.net", "alice@example.com"]):
            with django_capture_on_commit_callbacks(execute=True):
                client.post("/email/", {"email": email, "action_add": ""})
                client.post("/email/", {"email": email, "action_remove": ""})
                sent = len(mail.outbox)
                answers[email] = sign_up(f"mallory{n}", email), len(mail.outbox) - sent
        assert answers["nobody@example.net"] == answers["alice@example.com"]
        assert answers["alice@example.com"] == ((302, "/confirm-email/", ["sessionid"], False), 0)
        # Past the limit's 3 minutes, both say "we sent" again, and send.
        clock.shift(datetime.timedelta(minutes=4))
        with django_capture_on_commit_callbacks(execute=True):
            again = [
                sign_up("carol", "nobody2@example.net"),
                sign_up("mallory9", "alice@example.com"),
            ]
    assert again[0] == again[1] == (302, "/confirm-email/", ["messages", "sessionid"], True)


def test_a_member_sends_links_to_at_most_five_added_addresses_a_day(
    bob, django_capture_on_commit_callbacks
):
    with time_machine.travel(MORNING, tick=False) as clock:
        client = bob_on_the_email_page()
        with django_capture_on_commit_callbacks(execute=True):
            for n in range(6):
                clock.shift(datetime.timedelta(minutes=1))  # past allauth's per-minute limit
                reauthenticated(client)
                email = f"stranger{n}@example.org"
                response = client.post("/email/", {"email": email, "action_add": ""})
                client.post("/email/", {"email": email, "action_remove": ""})
        assert response.status_code == 200
        assert (
            "You have added 5 email addresses within a day, the most a day allows. "
            "You can add another in 24 hours." in response.content.decode()
        )
        strangers = sorted({m.to[0] for m in mail.outbox} - {"bob@example.com"})
        assert strangers == [f"stranger{n}@example.org" for n in range(5)]
        # A day after the first, adding works again.
        clock.shift(datetime.timedelta(hours=24))
        reauthenticated(client)
        response = client.post("/email/", {"email": "friend@example.org", "action_add": ""})
    assert response.status_code == 302
    assert EmailAddress.objects.filter(user=bob, email="friend@example.org").exists()


def test_adding_again_soon_after_removing_answers_alike_for_new_and_taken(member, bob):
    """The second add falls within the address's link limit: neither says "we sent"."""
    client = bob_on_the_email_page()
    answers = []
    for email in ("aaron@example.net", "alice@example.com"):  # both sort before bob@
        client.post("/email/", {"email": email, "action_add": ""}, follow=True)
        client.post("/email/", {"email": email, "action_remove": ""}, follow=True)
        answers.append(client.post("/email/", {"email": email, "action_add": ""}, follow=True))
        client.post("/email/", {"email": email, "action_remove": ""}, follow=True)
    assert answer_of(answers[0]) == answer_of(answers[1])
    assert "We sent a confirmation link" not in answers[1].content.decode()
