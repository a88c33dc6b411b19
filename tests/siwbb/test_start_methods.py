"""/auth/bitbadges/login/: GET shows a page, only a POST starts, any other method is 405.

HEAD and OPTIONS are "safe" to Django's CSRF check: if they started the flow, anyone
holding a session could connect their own wallet without the password the POST asks
for. And a connect whose confirmation ran out while the member was at BitBadges is
asked again on the way back (SOCIALACCOUNT_REAUTHENTICATION_REQUIRED), then finishes.
"""

import time

import pytest
from allauth.account.internal.flows.login import AUTHENTICATION_METHODS_SESSION_KEY
from allauth.socialaccount.models import SocialAccount
from django.test import Client

from tests.members_support import verify_email
from tests.siwbb.siwbb_support import (
    ALICE_0X,
    ALICE_BB,
    ALICE_EIP55,
    BOB_BB,
    at_bitbadges,
    back,
    sign_in,
)

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "start-methods-password"
OTHER_METHODS = ["head", "options", "put", "patch", "delete", "trace"]


@pytest.fixture
def carol(django_user_model):
    member = django_user_model.objects.create_user(
        username="carol", email="carol@example.com", password=PASSWORD
    )
    return verify_email(member)


def _send(client, method: str, url: str):
    if method == "trace":
        return client.generic("TRACE", url)
    return getattr(client, method)(url)


@pytest.mark.parametrize("method", OTHER_METHODS)
@pytest.mark.parametrize("process", ["login", "connect"])
def test_no_other_method_starts_the_flow(client, siwbb, carol, method, process):
    client.force_login(carol)
    # Even right after the password: only the POST of the button starts.
    assert client.post("/reauthenticate/", {"password": PASSWORD}).status_code == 302
    # The test client skips the CSRF check: the view itself refuses every method but two.
    response = _send(client, method, f"/auth/bitbadges/login/?process={process}&next=/profile/")
    assert response.status_code == 405
    assert "Location" not in response
    assert not SocialAccount.objects.exists()


@pytest.mark.parametrize("method", OTHER_METHODS)
def test_no_other_method_starts_a_login_for_a_visitor(siwbb, method):
    response = _send(Client(), method, "/auth/bitbadges/login/")
    assert response.status_code == 405 and "Location" not in response


def test_get_shows_the_page_and_the_post_starts(client, siwbb):
    page = client.get("/auth/bitbadges/login/?process=login")
    assert page.status_code == 200 and "Continue to BitBadges" in page.content.decode()
    started = client.post("/auth/bitbadges/login/?process=login")
    assert started.status_code == 302
    assert started["Location"].startswith(f"{siwbb.url}/sandbox/bitbadges/siwbb/authorize?")


def test_the_rate_limit_counts_every_start(client, siwbb, settings):
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login": "2/m/ip"}
    for _ in range(2):
        assert client.post("/auth/bitbadges/login/").status_code == 302
    assert client.head("/auth/bitbadges/login/").status_code == 405
    assert client.post("/auth/bitbadges/login/").status_code == 429


def test_a_confirmation_that_ran_out_at_bitbadges_is_asked_again_then_connects(
    client, siwbb, carol
):
    client.force_login(carol)
    assert client.post("/reauthenticate/", {"password": PASSWORD}).status_code == 302
    started = client.post("/auth/bitbadges/login/", {"process": "connect", "next": "/profile/"})
    assert started.status_code == 302
    location = at_bitbadges(started["Location"], address=ALICE_0X)
    # Six minutes at BitBadges: the confirmation (ACCOUNT_REAUTHENTICATION_TIMEOUT) ran out.
    session = client.session
    records = session[AUTHENTICATION_METHODS_SESSION_KEY]
    for record in records:
        record["at"] = time.time() - 360
    session[AUTHENTICATION_METHODS_SESSION_KEY] = records
    session.save()
    held = back(client, location)
    assert held.status_code == 302 and held["Location"].startswith("/reauthenticate/")
    carol.refresh_from_db()
    assert carol.address == "" and not SocialAccount.objects.exists()
    # A wrong password changes nothing; the right one finishes the connect.
    assert client.post("/reauthenticate/", {"password": "wrong"}).status_code == 200
    assert not SocialAccount.objects.exists()
    done = client.post("/reauthenticate/", {"password": PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/profile/"
    carol.refresh_from_db()
    assert carol.address == ALICE_EIP55 and carol.address_proven
    assert list(SocialAccount.objects.values_list("user", "uid")) == [(carol.pk, ALICE_BB)]


def test_a_held_connect_still_refuses_an_address_another_account_took_meanwhile(
    client, siwbb, carol, django_user_model
):
    client.force_login(carol)
    client.post("/reauthenticate/", {"password": PASSWORD})
    started = client.post("/auth/bitbadges/login/", {"process": "connect", "next": "/profile/"})
    location = at_bitbadges(started["Location"], address=BOB_BB)
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = []
    session.save()
    assert back(client, location)["Location"].startswith("/reauthenticate/")
    # Meanwhile, BOB signs up with BitBadges in another browser.
    other = Client()
    sign_in(other, address=BOB_BB)
    holder = django_user_model.objects.get(address=BOB_BB)
    done = client.post("/reauthenticate/", {"password": PASSWORD})
    assert done.status_code == 302
    carol.refresh_from_db()
    assert carol.address == "" and not carol.address_proven
    assert list(SocialAccount.objects.values_list("user", "uid")) == [(holder.pk, BOB_BB)]
