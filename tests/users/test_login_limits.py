"""Failed logins: counted per account and per client address, read the trusted way.

Behind a balancer every address-keyed limit had become one bucket, and the wrong-password
limit was per login string across all addresses: 24 bad logins from one address locked
alice and bob out everywhere, while `bob` and `bob@example.com` were counted apart.
"""

import datetime
import re

import pytest
import time_machine
from django.core import mail
from django.test import override_settings

from tests.members_support import verify_email

pytestmark = pytest.mark.django_db

PASSWORD = "connect-demo"
TOO_MANY = "Too many failed attempts to log in from your connection"
# What a wrong password gets, and what a held account gets too (users.adapter).
MISMATCH = "do not match"
HELD = "held for up to 5 minutes: wait, or reset your password to get in at once"
BALANCER = "10.0.0.2"  # REMOTE_ADDR of every request that came through the balancer
ATTACKER = "203.0.113.66"
MEMBER = "198.51.100.7"


@pytest.fixture
def bob(django_user_model):
    return verify_email(
        django_user_model.objects.create_user(
            username="bob", email="bob@example.com", password=PASSWORD
        )
    )


def proxies(count):
    """TRUSTED_PROXY_COUNT as settings.py passes it on (allauth reads its own name)."""
    return override_settings(TRUSTED_PROXY_COUNT=count, ALLAUTH_TRUSTED_PROXY_COUNT=count)


def log_in(client, login, password, *, xff=None, remote=BALANCER):
    extra = {"REMOTE_ADDR": remote}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return client.post("/login/", {"login": login, "password": password}, **extra)


def logged_in_as(client):
    return client.session.get("_auth_user_id")


@proxies(1)
def test_24_bad_logins_from_one_address_do_not_lock_out_members_elsewhere(client, member, bob):
    answers = [
        log_in(client, login, f"guess-{n}", xff=ATTACKER).content.decode()
        for n in range(12)
        for login in ("alice", "bob")
    ]
    assert "do not match" in answers[0]
    assert all(TOO_MANY in answer for answer in answers[10:])
    # The attacker's address stays refused, even with the right password...
    assert TOO_MANY in log_in(client, "alice", PASSWORD, xff=ATTACKER).content.decode()
    assert logged_in_as(client) is None
    # ...while alice and bob, from their own addresses behind the same balancer, log in.
    for login, user in (("alice", member), ("bob@example.com", bob)):
        other = client.__class__()
        response = log_in(other, login, PASSWORD, xff=MEMBER)
        assert response.status_code == 302, response.content.decode()
        assert logged_in_as(other) == str(user.pk)


def test_failures_count_per_account_whichever_login_string_names_it(client, bob):
    for login in ("bob", "BOB", "bob@example.com", "Bob@Example.COM", "b\u200bob"):
        response = log_in(client, login, "not-his-password")
        assert "do not match" in response.content.decode()
    # Five wrong passwords for one account from one address: the sixth try is refused,
    # whatever it names the account by, as a wrong password is (which says how long).
    for login in ("bob", "bob@example.com"):
        answer = log_in(client, login, PASSWORD).content.decode()
        assert MISMATCH in answer and HELD in answer
    assert logged_in_as(client) is None
    with time_machine.travel(datetime.timedelta(minutes=5, seconds=1)):
        assert log_in(client, "BOB", PASSWORD).status_code == 302


def test_guessing_from_many_addresses_meets_a_looser_limit_per_account(client, member):
    for n in range(14):
        log_in(client, "alice", f"guess-{n}", remote=f"203.0.113.{n + 1}")
    # 14 wrong passwords from 14 addresses lock nobody out (the tight limit is per
    # address)...
    assert log_in(client, "alice", PASSWORD, remote=MEMBER).status_code == 302
    client.post("/logout/")
    # ...the 15th reaches the per-account limit: then everyone waits, for 5 minutes.
    log_in(client, "alice", "guess-14", remote="203.0.113.99")
    answer = log_in(client, "alice", PASSWORD, remote=MEMBER).content.decode()
    assert MISMATCH in answer and HELD in answer
    assert logged_in_as(client) is None
    with time_machine.travel(datetime.timedelta(minutes=5, seconds=1)):
        assert log_in(client, "alice", PASSWORD, remote=MEMBER).status_code == 302


def test_the_trusted_address_is_the_one_our_proxy_saw(client, member, settings):
    # One proxy (nginx) appends the address it saw: the last entry is believed.
    settings.TRUSTED_PROXY_COUNT = settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    for n in range(5):
        log_in(client, "alice", f"guess-{n}", xff=f"{MEMBER}, {ATTACKER}")
    # A forged entry in front does not change who is refused: still the attacker...
    forged = log_in(client, "alice", PASSWORD, xff=f"192.0.2.1, {MEMBER}, {ATTACKER}")
    assert MISMATCH in forged.content.decode() and logged_in_as(client) is None
    # ...and the member whose address the attacker wrote in is not locked out.
    assert log_in(client, "alice", PASSWORD, xff=MEMBER).status_code == 302

    # With no trusted proxy, X-Forwarded-For is ignored: one socket address, one client.
    client.post("/logout/")
    settings.TRUSTED_PROXY_COUNT = settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    for n in range(5):
        log_in(client, "alice", f"again-{n}", xff=ATTACKER, remote="192.0.2.50")
    answer = log_in(client, "alice", PASSWORD, xff=MEMBER, remote="192.0.2.50")
    assert MISMATCH in answer.content.decode() and logged_in_as(client) is None
    assert log_in(client, "alice", PASSWORD, xff=ATTACKER, remote="192.0.2.51").status_code == 302


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_X_FORWARDED_FOR": "203.0.113.5"},  # one entry where two proxies append
        {"HTTP_X_FORWARDED_FOR": " , not-an-address"},
        {"HTTP_X_FORWARDED_FOR": "x" * 5000 + ", ::ffff:zz"},
    ],
)
@proxies(2)
def test_a_short_or_forged_forwarded_for_is_never_an_error(client, member, headers):
    for path in ("/login/", "/signup/", "/password/reset/"):
        response = client.post(path, {"login": "alice", "password": "wrong"}, **headers)
        assert response.status_code in (200, 302), (path, response.status_code)
    response = client.post("/login/", {"login": "alice", "password": PASSWORD}, **headers)
    assert response.status_code == 302


@override_settings(
    TRUSTED_CLIENT_IP_HEADER="X-Real-IP", ALLAUTH_TRUSTED_CLIENT_IP_HEADER="X-Real-IP"
)
def test_a_missing_client_ip_header_is_not_an_error(client, member):
    # Without the header (a request that bypassed the proxy) the socket's address counts.
    response = client.post("/login/", {"login": "alice", "password": "wrong"})
    assert response.status_code == 200
    assert "do not match" in response.content.decode()
    response = client.post(
        "/login/", {"login": "alice", "password": PASSWORD}, HTTP_X_REAL_IP="198.51.100.20"
    )
    assert response.status_code == 302


def errors_of(response) -> str:
    page = response.content.decode()
    return page[page.index('class="form-errors"') :].split("</div>")[0]


@pytest.mark.parametrize("remote", ["203.0.113.66", None])
def test_a_held_account_does_not_tell_which_logins_name_it(client, member, bob, remote):
    """Issue 17: 5 wrong passwords as alice, then candidate emails: alice's own was
    refused at once ("too many"), another's got the wrong-password answer."""
    if remote is None:  # the limit for all addresses (15), reached from many
        for n in range(15):
            log_in(client, "alice", f"guess-{n}", remote=f"192.0.2.{n + 1}")
        remote = ATTACKER
    else:  # the one for this address (5)
        for n in range(5):
            log_in(client, "alice", f"guess-{n}", remote=remote)
    hers = log_in(client, "alice@example.com", "another-guess", remote=remote)
    his = log_in(client, "bob@example.com", "another-guess", remote=remote)
    nobodys = log_in(client, "nobody@example.com", "another-guess", remote=remote)
    assert errors_of(hers) == errors_of(his) == errors_of(nobodys)
    assert MISMATCH in errors_of(hers) and TOO_MANY not in hers.content.decode()


def test_a_password_reset_lets_a_held_member_in_at_once(client, member):
    for n in range(5):
        log_in(client, "alice", f"guess-{n}", remote=MEMBER)
    assert MISMATCH in log_in(client, "alice", PASSWORD, remote=MEMBER).content.decode()
    client.post("/password/reset/", {"email": "alice@example.com"}, REMOTE_ADDR=MEMBER)
    link = re.search(r"https?://[^/\s]+(/password/reset/key/\S+)", mail.outbox[-1].body)[1]
    form = client.get(link, follow=True, REMOTE_ADDR=MEMBER)
    new = "purple-Kettle-42-river"
    client.post(
        form.redirect_chain[-1][0], {"password1": new, "password2": new}, REMOTE_ADDR=MEMBER
    )
    assert log_in(client, "alice", new, remote=MEMBER).status_code == 302
