"""Members join and look after their account through django-allauth, in our words."""

import re

import pytest
import time_machine
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model
from django.core import mail
from django.utils import timezone

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "purple-Kettle-42-river"


def sign_up(client, **fields):
    data = {
        "username": "carol",
        "email": "carol@example.com",
        "password1": GOOD_PASSWORD,
        "password2": GOOD_PASSWORD,
        **fields,
    }
    return client.post("/signup/", data)


def link_in(message) -> str:
    return re.search(r"https?://\S+", message.body).group(0)


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


# --- sign-up ----------------------------------------------------------------------


def test_signup_creates_a_member_emails_a_link_and_says_to_check_the_inbox(client, settings):
    settings.PUBLIC_URL = "https://claims.example.org"
    response = sign_up(client)
    # Nobody is logged in by a sign-up (a registered address would tell otherwise):
    # every one ends on "check your inbox".
    assert (response.status_code, response["Location"]) == (302, "/confirm-email/")
    carol = get_user_model().objects.get(username="carol")
    assert carol.email == "carol@example.com"
    assert "_auth_user_id" not in client.session
    address = EmailAddress.objects.get(user=carol)
    assert (address.email, address.verified, address.primary) == ("carol@example.com", False, True)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["carol@example.com"]
    assert "confirm your email" in message.subject.lower()
    assert "Welcome, carol!" in message.body
    # Emailed links are built on PUBLIC_URL, never on the request's Host header.
    assert link_in(message).startswith("https://claims.example.org/confirm-email/")
    # The page says what to do next: open the link, or log in.
    page = client.get(response["Location"]).content.decode()
    assert "Check your inbox" in page and "Open it and press" in page
    assert 'href="/login/"' in page
    # The password works before the address is confirmed; the banner says what is left.
    login = client.post("/login/", {"login": "carol", "password": GOOD_PASSWORD})
    assert login.status_code == 302
    assert client.session["_auth_user_id"] == str(carol.pk)
    page = client.get("/").content.decode()
    assert "Confirm your email to connect accounts" in page
    assert "carol@example.com" in page


def test_confirmation_link_verifies_the_address(client):
    sign_up(client)
    link = path_of(link_in(mail.outbox[0]))
    page = client.get(link)
    assert page.status_code == 200
    assert b"Yes, confirm it" in page.content
    # Opening the link (as a mail scanner would) confirms nothing: the button does.
    assert not EmailAddress.objects.get(email="carol@example.com").verified
    response = client.post(link, follow=True)
    assert response.status_code == 200
    assert EmailAddress.objects.get(email="carol@example.com").verified
    assert b"carol@example.com is confirmed" in response.content
    # Confirmed in the browser that signed up: that logs carol in.
    carol = get_user_model().objects.get(username="carol")
    assert client.session["_auth_user_id"] == str(carol.pk)
    assert b"Confirm your email to connect accounts" not in client.get("/").content


def test_confirming_in_another_browser_logs_nobody_in(client):
    sign_up(client)
    elsewhere = client.__class__()
    response = elsewhere.post(path_of(link_in(mail.outbox[0])))
    assert response.status_code == 302
    assert EmailAddress.objects.get(email="carol@example.com").verified
    assert "_auth_user_id" not in elsewhere.session


def test_a_tampered_confirmation_link_verifies_nothing(client):
    sign_up(client)
    link = path_of(link_in(mail.outbox[0]))
    tampered = link[:-3] + ("AAA/" if not link.endswith("AAA/") else "BBB/")
    page = client.get(tampered)
    assert page.status_code == 200
    assert b"This link does not work" in page.content
    response = client.post(tampered)
    assert response.status_code == 400
    assert b"This link does not work" in response.content
    assert not EmailAddress.objects.get(email="carol@example.com").verified


def test_an_expired_confirmation_link_verifies_nothing(client, settings):
    sign_up(client)
    link = path_of(link_in(mail.outbox[0]))
    later = timezone.now() + timezone.timedelta(
        days=settings.ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS + 1
    )
    with time_machine.travel(later, tick=False):
        assert b"This link does not work" in client.get(link).content
        response = client.post(link)
        assert b"This link does not work" in response.content
    assert not EmailAddress.objects.get(email="carol@example.com").verified


def test_duplicate_username_gets_a_clear_message_and_creates_nobody(client, member):
    response = sign_up(client, username="alice", email="someone-else@example.com")
    assert response.status_code == 200
    assert b"This username is taken" in response.content
    assert get_user_model().objects.count() == 1
    assert not EmailAddress.objects.filter(email="someone-else@example.com").exists()
    assert mail.outbox == []


def test_username_differing_only_in_case_is_taken_too(client, member):
    response = sign_up(client, username="ALICE", email="someone-else@example.com")
    assert b"This username is taken" in response.content
    assert get_user_model().objects.count() == 1


def test_weak_password_gets_the_validators_reasons_and_creates_nobody(client):
    response = sign_up(client, password1="12345678", password2="12345678")
    assert response.status_code == 200
    assert b"This password is too common" in response.content
    assert b"entirely numeric" in response.content
    assert not get_user_model().objects.filter(username="carol").exists()
    assert not EmailAddress.objects.exists()


def test_password_like_the_username_is_refused(client):
    response = sign_up(
        client, username="carolinexyz", password1="carolinexyz1", password2="carolinexyz1"
    )
    assert b"too similar" in response.content
    assert not get_user_model().objects.exists()


def test_mismatched_passwords_are_refused(client):
    response = sign_up(client, password2=GOOD_PASSWORD + "x")
    assert b"same password" in response.content
    assert not get_user_model().objects.exists()


def test_username_with_an_at_sign_is_refused(client):
    response = sign_up(client, username="carol@home")
    assert b"cannot contain @" in response.content
    assert not get_user_model().objects.exists()


def test_signup_closed_says_so_and_creates_nobody(client, settings):
    settings.SIGNUP_OPEN = False
    page = client.get("/signup/")
    assert b"Joining is closed" in page.content
    response = sign_up(client)
    assert b"Joining is closed" in response.content
    assert not get_user_model().objects.exists()
    assert not EmailAddress.objects.exists()
    assert mail.outbox == []
    # The navigation offers no sign-up either.
    assert b'href="/signup/"' not in client.get("/login/").content


def test_visitors_see_sign_up_beside_log_in(client):
    page = client.get("/login/").content.decode()
    assert 'href="/signup/"' in page and 'href="/login/"' in page


# --- logging in -----------------------------------------------------------------


@pytest.mark.parametrize("login", ["alice", "alice@example.com", "ALICE@example.COM"])
def test_login_by_username_or_email(client, member, login):
    response = client.post("/login/", {"login": login, "password": "connect-demo"})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(member.pk)


def test_twelve_wrong_passwords_in_a_row_hold_the_account(client, member):
    answers = []
    for _ in range(12):
        response = client.post("/login/", {"login": "alice", "password": "not-her-password"})
        answers.append(response.content.decode())
    # The account's limit (5) answers as a wrong password does, with what to do about
    # it (users.adapter: "too many" would tell which logins name the account).
    assert all("do not match" in a for a in answers)
    assert "held for up to 5 minutes: wait, or reset your password" in answers[0]
    # Even the right password is refused while the limit lasts.
    response = client.post("/login/", {"login": "alice", "password": "connect-demo"})
    assert b"do not match" in response.content
    assert "_auth_user_id" not in client.session


def test_an_unverified_member_may_log_in_and_gets_the_link_again(client, unverified_member):
    response = client.post("/login/", {"login": "carol", "password": "connect-demo"})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(unverified_member.pk)
    assert [m.to for m in mail.outbox] == [["carol@example.com"]]
    assert "/confirm-email/" in mail.outbox[0].body
    assert not EmailAddress.objects.get(user=unverified_member).verified


def test_a_verified_member_gets_no_email_at_login(client, member):
    client.post("/login/", {"login": "alice", "password": "connect-demo"})
    assert mail.outbox == []


def test_resend_from_the_banner_sends_a_new_link(client, unverified_member):
    client.force_login(unverified_member)
    response = client.post(
        "/email/", {"email": "carol@example.com", "action_send": ""}, follow=True
    )
    assert response.status_code == 200
    assert len(mail.outbox) == 1
    assert b"We sent a confirmation link to carol@example.com" in response.content


# --- password reset --------------------------------------------------------------


def reset(client, email):
    return client.post("/password/reset/", {"email": email}, follow=True)


def test_password_reset_answers_the_same_for_known_and_unknown_emails(client, member):
    known = reset(client, "alice@example.com")
    unknown = reset(client, "nobody@example.com")
    assert known.redirect_chain == unknown.redirect_chain == [("/password/reset/done/", 302)]

    def visible(response):
        # Per-request values (CSRF token, CSP nonce) aside, the pages are identical.
        html = response.content.decode()
        html = re.sub(r'value="[^"]+"|nonce="[^"]+"|"x-csrftoken": "[^"]+"', "", html)
        return html

    assert visible(known) == visible(unknown)
    # Each address gets a letter (the unknown one says no account uses it).
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "nobody@example.com"]


def test_password_reset_link_sets_a_new_password(client, member):
    reset(client, "alice@example.com")
    link = path_of(link_in(mail.outbox[0]))
    page = client.get(link, follow=True)
    assert b"Choose a new password" in page.content
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else link
    response = client.post(
        form_url, {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD}, follow=True
    )
    assert b"Your password is changed" in response.content
    member.refresh_from_db()
    assert member.check_password(GOOD_PASSWORD)


def test_a_tampered_password_reset_link_changes_nothing(client, member):
    reset(client, "alice@example.com")
    link = path_of(link_in(mail.outbox[0]))
    tampered = link.rstrip("/")[:-2] + "zz/"
    page = client.get(tampered, follow=True)
    assert b"This link does not work" in page.content
    member.refresh_from_db()
    assert member.check_password("connect-demo")


def test_password_reset_is_rate_limited_per_address(client, member):
    for _ in range(5):
        reset(client, "alice@example.com")
    response = client.post("/password/reset/", {"email": "alice@example.com"})
    assert response.status_code == 429
    assert b"Too many requests" in response.content
    assert len(mail.outbox) == 5


# --- pages in the site's look ---------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/login/", "/signup/", "/password/reset/", "/password/reset/done/"]
)
def test_public_pages_wear_the_site_look(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "css/app.css" in html and 'class="topbar"' in html
    assert "<style" not in html and "<script>" not in html


@pytest.mark.parametrize("path", ["/email/", "/password/change/", "/logout/"])
def test_member_pages_wear_the_site_look(client, member, path):
    client.force_login(member)
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert "css/app.css" in html and 'class="topbar"' in html
    assert "<style" not in html and "<script>" not in html


def test_password_change(client, member):
    client.force_login(member)
    response = client.post(
        "/password/change/",
        {"oldpassword": "connect-demo", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD},
        follow=True,
    )
    assert b"Your password is changed" in response.content
    member.refresh_from_db()
    assert member.check_password(GOOD_PASSWORD)


def test_password_change_refuses_a_wrong_current_password(client, member):
    client.force_login(member)
    response = client.post(
        "/password/change/",
        {"oldpassword": "nope", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD},
    )
    assert response.status_code == 200
    assert b"field-error" in response.content
    member.refresh_from_db()
    assert member.check_password("connect-demo")


def test_logout_by_post(client, member):
    client.force_login(member)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert "_auth_user_id" not in client.session


# --- email goes through MAILERS ----------------------------------------------------


def test_allauth_mail_goes_through_the_default_mailer(client, settings, tmp_path):
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(tmp_path)},
        }
    }
    sign_up(client)
    files = list(tmp_path.iterdir())
    assert len(files) == 1
    text = files[0].read_text()
    assert "To: carol@example.com" in text and "/confirm-email/" in text


def test_a_resend_held_back_by_the_rate_limit_says_so(client):
    sign_up(client, **{})
    client.get("/confirm-email/")  # the sign-up's own message
    client.post("/login/", {"login": "carol", "password": GOOD_PASSWORD})
    client.get("/")  # the login's message
    response = client.post(
        "/email/", {"email": "carol@example.com", "action_send": ""}, follow=True
    )
    assert len(mail.outbox) == 1
    assert b"a moment ago" in response.content


@pytest.mark.parametrize("path", ["/email/", "/password/change/"])
def test_member_pages_need_login(client, path):
    for response in (client.get(path), client.post(path, {"email": "x@example.com"})):
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
