"""Email addresses: nobody else's, no look-alikes, changes confirmed and announced, and a
sign-up that does not tell whether an address is registered."""

import datetime
import re

import pytest
import time_machine
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core import mail

from tests.members_support import verify_email
from tests.users.email_support import answer_of

pytestmark = pytest.mark.django_db

PASSWORD = "connect-demo"
NEW_PASSWORD = "purple-Kettle-42-river"
LOOKALIKE = "invisible or look-alike characters"
# Each reads as alice@example.com (a soft hyphen, a zero-width space, a word joiner, a
# full-width letter, all in the domain, which Django's email validator lets through).
LOOKALIKES = [
    "alice@exam\u00adple.com",
    "alice@example\u200b.com",
    "alice@example.com\u2060",
    "alice@\uff45xample.com",
]


@pytest.fixture
def bob(django_user_model):
    return verify_email(
        django_user_model.objects.create_user(
            username="bob", email="bob@example.com", password=PASSWORD
        )
    )


def logged_in(client, login):
    """Logged in through the form, so the session knows when the password was typed."""
    assert client.post("/login/", {"login": login, "password": PASSWORD}).status_code == 302
    return client


def reauthenticated(client):
    """Past allauth's "Confirm it is you" (a login alone does not count: settings.py)."""
    response = client.post("/reauthenticate/", {"password": PASSWORD})
    assert response.status_code == 302
    return client


def add_email(client, email):
    return client.post("/email/", {"email": email, "action_add": ""}, follow=True)


# --- (a) another member's address, and look-alikes of it ---------------------------


# Five minutes into an hour: the notice's limit counts whole hours, so "4 minutes later"
# below must not cross into the next one (it did, once, in CI).
@time_machine.travel(datetime.datetime(2026, 12, 7, 9, 5, tzinfo=datetime.UTC), tick=True)
def test_another_members_address_answers_and_lists_as_any_other(client, member, bob):
    reauthenticated(logged_in(client, "bob"))
    # (aaron@ sorts before bob@ as alice@ does: the page lists addresses by name.)
    unused = add_email(client, "aaron@example.net")
    unused_again = add_email(client, "aaron@example.net")
    client.post("/email/", {"email": "aaron@example.net", "action_remove": ""}, follow=True)
    taken = add_email(client, "Alice@Example.com")
    taken_again = add_email(client, "alice@example.com")
    # The same redirect, message and page (the address listed "Not confirmed"), and the
    # same refusal when added twice.
    assert answer_of(taken) == answer_of(unused)
    assert answer_of(taken_again) == answer_of(unused_again)
    assert answer_of(taken)[:2] == (200, [("/email/", 302)])
    assert answer_of(taken_again)[:2] == (200, [])
    page = taken.content.decode()
    assert "We sent a confirmation link to alice@example.com" in page
    assert "alice@example.com</span>" in page and "Not confirmed" in page
    assert not EmailAddress.objects.get(user=bob, email="alice@example.com").verified
    # aaron@ got its link; alice a notice with no link that does anything.
    letters = {m.to[0]: m for m in mail.outbox if m.to != ["bob@example.com"]}
    assert sorted(letters) == ["aaron@example.net", "alice@example.com"]
    notice = letters["alice@example.com"].body
    assert "tried to add alice@example.com to another" in notice
    assert "/confirm-email/" not in notice and "/password/" not in notice
    assert "bob" not in notice
    # "Send the link again" never sends alice@ a link (the notice is one an hour).
    sent = len(mail.outbox)
    with time_machine.travel(datetime.timedelta(minutes=4)):
        reauthenticated(client)
        again = client.post(
            "/email/", {"email": "alice@example.com", "action_send": ""}, follow=True
        )
    assert "We sent a confirmation link to alice@example.com" in again.content.decode()
    assert mail.outbox[sent:] == []
    assert not EmailAddress.objects.get(user=bob, email="alice@example.com").verified


def test_an_email_page_holds_at_most_three_addresses(client, bob):
    reauthenticated(logged_in(client, "bob"))
    add_email(client, "two@example.net")
    add_email(client, "three@example.net")
    response = add_email(client, "four@example.net")
    assert response.status_code == 200
    assert "An account can have at most 3 email addresses." in response.content.decode()
    assert EmailAddress.objects.filter(user=bob).count() == 3
    assert len(mail.outbox) == 2


def test_another_members_unconfirmed_address_blocks_nobody(client, bob, django_user_model):
    """Whoever confirms an address first keeps it (allauth's ACCOUNT_UNIQUE_EMAIL)."""
    squatter = django_user_model.objects.create_user(
        username="squatter", email="carol@example.com", password=PASSWORD
    )
    EmailAddress.objects.create(user=squatter, email="carol@example.com", primary=True)
    reauthenticated(logged_in(client, "bob"))
    add_email(client, "carol@example.com")
    assert EmailAddress.objects.filter(user=bob, email="carol@example.com").exists()
    [link] = mail.outbox
    assert link.to == ["carol@example.com"] and "/confirm-email/" in link.body
    path = re.search(r"https?://[^/\s]+(/confirm-email/\S+)", link.body)[1]
    client.post(path)
    assert EmailAddress.objects.get(user=bob, email="carol@example.com").verified
    assert not EmailAddress.objects.get(user=squatter).verified


@pytest.mark.parametrize("email", LOOKALIKES)
def test_a_look_alike_address_is_refused_on_the_email_page(client, member, bob, email):
    response = add_email(reauthenticated(logged_in(client, "bob")), email)
    assert response.status_code == 200
    assert LOOKALIKE in response.content.decode()
    assert EmailAddress.objects.filter(user=bob).count() == 1
    assert mail.outbox == []


@pytest.mark.parametrize("email", LOOKALIKES[:2])
def test_sign_up_refuses_look_alike_addresses_and_usernames(client, member, email):
    data = {"username": "carol", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    response = client.post("/signup/", {**data, "email": email})
    assert response.status_code == 200
    assert LOOKALIKE in response.content.decode()
    response = client.post("/signup/", {**data, "username": "\uff41lice", "email": "c@ex.org"})
    assert response.status_code == 200
    assert "A username cannot contain invisible or look-alike" in response.content.decode()
    assert get_user_model().objects.count() == 1
    assert mail.outbox == []


@pytest.mark.parametrize("login", ["\uff41lice", "al\u00adice", "alice@exam\u200bple.com"])
def test_login_reads_a_look_alike_as_the_account_it_imitates(client, member, login):
    response = client.post("/login/", {"login": login, "password": PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(member.pk)


# --- (b) changes need the password again, and are announced -------------------------


def test_adding_an_email_asks_for_the_password_again(client, member):
    logged_in(client, "alice")
    response = client.post("/email/", {"email": "new@example.org", "action_add": ""})
    assert response.status_code == 302
    assert response["Location"] == "/reauthenticate/?next=%2Femail%2F"
    assert not EmailAddress.objects.filter(email="new@example.org").exists()
    # A wrong password changes nothing.
    response = client.post("/reauthenticate/", {"password": "not-it", "next": "/email/"})
    assert response.status_code == 200
    response = client.post(
        "/reauthenticate/", {"password": PASSWORD, "next": "/email/"}, follow=True
    )
    assert response.redirect_chain == [("/email/", 302)]
    add_email(client, "new@example.org")
    assert EmailAddress.objects.filter(user=member, email="new@example.org").exists()
    assert [m.to for m in mail.outbox] == [["new@example.org"]]
    # The confirmed password lasts 5 minutes.
    with time_machine.travel(datetime.timedelta(minutes=5, seconds=5)):
        response = client.post("/email/", {"email": "new@example.org", "action_remove": ""})
        assert response["Location"].startswith("/reauthenticate/")
    assert EmailAddress.objects.filter(email="new@example.org").exists()


def test_changing_the_primary_email_sends_a_notice_to_the_old_one(client, member, settings):
    settings.PUBLIC_URL = "https://claims.example.org"
    EmailAddress.objects.create(user=member, email="alice@new.example", verified=True)
    reauthenticated(logged_in(client, "alice"))
    response = client.post(
        "/email/", {"email": "alice@new.example", "action_primary": ""}, follow=True
    )
    assert response.status_code == 200
    assert EmailAddress.objects.get_primary(member).email == "alice@new.example"
    [notice] = mail.outbox
    assert notice.to == ["alice@example.com"]
    assert notice.subject == "[Connect & Claim] Your email address was changed"
    # allauth's notice, in this site's letter (templates/account/email/base_message.txt).
    assert notice.body.startswith("Hello from Connect & Claim")
    assert "from alice@example.com to alice@new.example" in notice.body
    assert "It came from IP address 127.0.0.1" in notice.body
    assert f"choose a new password at once: {settings.PUBLIC_URL}/password/reset/" in notice.body


def test_removing_an_email_sends_a_notice(client, member):
    EmailAddress.objects.create(user=member, email="old@other.example", verified=True)
    reauthenticated(logged_in(client, "alice"))
    client.post("/email/", {"email": "old@other.example", "action_remove": ""})
    assert not EmailAddress.objects.filter(email="old@other.example").exists()
    [notice] = mail.outbox
    assert notice.to == ["alice@example.com"]
    assert "old@other.example" in notice.body and "removed" in notice.body


# --- (c) sign-up with a registered address ---------------------------------------


def sign_up(client, username, email):
    data = {"username": username, "email": email}
    data.update(password1=NEW_PASSWORD, password2=NEW_PASSWORD)
    return client.post("/signup/", data)


def test_sign_up_with_a_registered_email_answers_as_for_a_new_one(client, member):
    new_client = client.__class__()
    new = sign_up(new_client, "carol", "carol@example.com")
    taken = sign_up(client, "mallory", "ALICE@example.com")
    # The same redirect, the same cookies, nobody logged in (a new member was, before).
    assert (taken.status_code, taken["Location"]) == (new.status_code, new["Location"])
    assert (taken.status_code, taken["Location"]) == (302, "/confirm-email/")
    assert sorted(taken.cookies) == sorted(new.cookies) == ["messages", "sessionid"]
    for browser in (client, new_client):
        assert "_auth_user_id" not in browser.session
        page = browser.get("/", follow=True)
        assert page.redirect_chain == [("/login/?next=/", 302)]
        assert "We sent a confirmation link to" in page.content.decode()
    assert not get_user_model().objects.filter(username="mallory").exists()
    assert EmailAddress.objects.filter(email="alice@example.com").count() == 1
    # Each address got one letter: carol her link, alice a word that someone tried.
    letters = {m.to[0]: m for m in mail.outbox}
    assert sorted(letters) == ["alice@example.com", "carol@example.com"]
    assert "tried to sign up" in letters["alice@example.com"].body
    assert "/confirm-email/" not in letters["alice@example.com"].body


def test_a_registered_address_gets_one_notice_an_hour(client, member):
    for n in range(20):
        response = sign_up(
            client.__class__(REMOTE_ADDR=f"192.0.2.{n + 1}"), f"m{n}", "alice@example.com"
        )
        assert (response.status_code, response["Location"]) == (302, "/confirm-email/")
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    with time_machine.travel(datetime.timedelta(hours=1, seconds=1)):
        sign_up(client, "mallory", "alice@example.com")
    assert len(mail.outbox) == 2


def test_sign_up_hashes_a_password_for_a_registered_address_too(client, member, settings):
    """The same work either way: a registered address's answer is not the fast one."""
    settings.PASSWORD_HASHERS = ["tests.users.test_email_holes.CountingHasher"]
    CountingHasher.calls = 0
    sign_up(client.__class__(), "carol", "carol@example.com")
    new = CountingHasher.calls
    sign_up(client, "mallory", "alice@example.com")
    assert new >= 1 and CountingHasher.calls - new == new


class CountingHasher(MD5PasswordHasher):
    algorithm = "counting"
    calls = 0

    def encode(self, password, salt):
        CountingHasher.calls += 1
        return super().encode(password, salt)


# --- (d) confusable usernames and domains ---------------------------------------------


@pytest.mark.parametrize("username", ["\u0430lice", "j\u00f6rg", "ali\u0441e", "\u03b1"])
def test_sign_up_takes_ascii_usernames_only(client, member, username):
    response = sign_up(client, username, "newcomer@example.org")
    assert response.status_code == 200
    assert "A username can use only the letters a to z" in response.content.decode()
    assert get_user_model().objects.count() == 1


@pytest.mark.parametrize("email", ["bob@ex\u0430mple.com", "bob@b\u00fccher.example"])
def test_sign_up_and_the_email_page_refuse_non_ascii_domains(client, member, bob, email):
    response = sign_up(client, "carol", email)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Type the part after @ in plain letters" in text and "alice" not in text.lower()
    reauthenticated(logged_in(client, "bob"))
    response = add_email(client, email)
    assert "Type the part after @ in plain letters" in response.content.decode()
    assert EmailAddress.objects.filter(user=bob).count() == 1
    assert mail.outbox == []
    # The xn-- form of an internationalised domain is plain text, and shows what it is.
    assert sign_up(client.__class__(), "carol", "c@xn--bcher-kva.example").status_code == 302


def test_a_member_with_a_non_ascii_username_still_logs_in(client, django_user_model):
    old = django_user_model.objects.create_user(username="j\u00f6rg", password=PASSWORD)
    assert client.post("/login/", {"login": "j\u00f6rg", "password": PASSWORD}).status_code == 302
    assert client.session["_auth_user_id"] == str(old.pk)
