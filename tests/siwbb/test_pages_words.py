"""The words around the BitBadges button: what /login/ says it does, what "approve" means,
and the cancelled page's way back (against the sandbox over HTTP).

BitBadges signs the member in with their wallet; nothing lets them pick an address there,
so the pages say "sign in to BitBadges with this address (your wallet) and approve". On
/login/ one line says the button makes a new account for a BitBadges address not yet
connected here. allauth's own cancelled page (no state) offers the button and the
password side by side. Confirm with BitBadges gone wrong offers Confirm again, and the
password page offers it to a member who has both.
"""

import re

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model

from tests.siwbb.siwbb_support import BOB_BB, at_bitbadges, back, page_text, sign_in

# What the pages say: the database engine changes none of it (CI: one database).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.one_database]

PASSWORD = "connect-demo-password"
NOTE = "BitBadges not connected to your account here yet? Then this makes a new account."
WALLET = "sign in to BitBadges with this address (your wallet) and approve"
CONFIRM_PATH = "/auth/bitbadges/reauthenticate/"
NEXT_FIELD = re.compile(r'<input type="hidden" name="next" value="([^"]*)">')


def test_login_says_the_button_makes_a_new_account(client, siwbb):
    page = page_text(client.get("/login/"))
    assert ">Sign in with BitBadges</button>" in page
    button_at = page.index(">Sign in with BitBadges</button>")
    assert button_at < page.index(NOTE) < page.index("Forgot your password?")


def test_login_says_nothing_of_bitbadges_when_it_is_off(client, db, settings):
    settings.BITBADGES_CLIENT_ID = ""
    settings.BITBADGES_CLIENT_SECRET = ""
    page = page_text(client.get("/login/"))
    assert "Sign in with BitBadges" not in page and NOTE not in page


def test_an_unproven_address_says_to_sign_in_at_bitbadges_with_it(client, siwbb):
    member = get_user_model().objects.create_user(username="dora", password=PASSWORD)
    member.address = "0x0000000000000000000000000000000000000001"
    member.save()
    client.force_login(member)
    page = page_text(client.get("/profile/"))
    assert "Not proven" in page and WALLET in page
    assert "approve with this address" not in page
    assert "sign in to BitBadges with your address (your wallet) and approve" in page


@pytest.mark.parametrize("process", ["login", "connect"])
def test_the_get_page_says_to_sign_in_with_the_wallet(client, siwbb, process):
    if process == "connect":
        client.force_login(get_user_model().objects.create_user(username="erin"))
    page = page_text(client.get(f"/auth/bitbadges/login/?process={process}"))
    assert "sign in there with your address (your wallet) and approve this site" in page
    assert "The address you approve with" not in page


def test_allauths_own_cancelled_page_without_a_state(client, siwbb):
    response = client.get("/auth/social/login/cancelled/")
    page = page_text(response)
    assert response.status_code == 200 and "Sign-in cancelled" in page
    actions = page[page.index('class="confirm-actions"') :]
    # The BitBadges button and the password link sit side by side: no full-width button.
    assert re.search(
        r'<button type="submit" class="button primary">Sign in with BitBadges', actions
    )
    assert 'href="/login/"' in actions and not NEXT_FIELD.search(actions)


def test_confirming_with_another_address_offers_to_confirm_again(client, siwbb):
    """The error page of Confirm with BitBadges starts that again (not a sign-in), with
    where the member was going."""
    sign_in(client)  # alice, no password
    held = client.post("/profile/data/")
    assert held.status_code == 302 and held["Location"].startswith(CONFIRM_PATH)
    started = client.post(CONFIRM_PATH, {"next": "/profile/data/"})
    assert started.status_code == 302
    refused = back(client, at_bitbadges(started["Location"], address=BOB_BB))
    page = page_text(refused)
    assert refused.status_code == 403 and "This is not your BitBadges address" in page
    actions = page[page.index('class="confirm-actions"') :]
    form = re.search(r'<form method="post" action="([^"]+)" class="siwbb-form">', actions)
    assert form and form.group(1) == CONFIRM_PATH
    assert NEXT_FIELD.findall(actions) == ["/profile/data/"]
    assert ">Confirm with BitBadges</button>" in actions and 'name="process"' not in actions
    assert 'href="/profile/"' in actions


def test_the_password_page_offers_confirm_with_bitbadges_as_well(client, siwbb):
    member = get_user_model().objects.create_user(username="erin", password=PASSWORD)
    client.force_login(member)
    assert client.post("/reauthenticate/", {"password": PASSWORD}).status_code == 302
    sign_in(client, process="connect", next_url="/profile/")  # erin's BitBadges login
    assert SocialAccount.objects.filter(user=member).exists()
    page = page_text(client.get("/reauthenticate/?next=/profile/"))
    assert 'name="password"' in page
    assert re.search(
        r'Or, instead of your password: <a href="/auth/bitbadges/reauthenticate/\?next=[^"]*">'
        r"Confirm with BitBadges</a>",
        page,
    ), page


def test_the_password_page_offers_nothing_else_without_a_bitbadges_login(client, siwbb):
    member = get_user_model().objects.create_user(username="erin", password=PASSWORD)
    client.force_login(member)
    page = page_text(client.get("/reauthenticate/"))
    assert 'name="password"' in page and "instead of your password" not in page
