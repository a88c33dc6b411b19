"""The funnel's "signed up with BitBadges" is what the sign-up recorded
(User.signup_method), not a guess from the BitBadges login's age: over HTTP against the
sandbox, a password sign-up who connects BitBadges within the same minute is not counted,
and a BitBadges sign-up who sets a password and disconnects BitBadges later still is."""

import pytest
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model

from tests.claims.claims_support import run_worker
from tests.journey.journey_support import address_for, proven_member
from tests.siwbb.siwbb_support import ALICE_BB, at_bitbadges, back, sign_in

pytestmark = pytest.mark.django_db(transaction=True)

FUNNEL = "/admin/claims/claim/funnel/"
PASSWORD = "purple-Kettle-42-river"
User = get_user_model()


def counted(admin_client) -> tuple[int, int, list[int]]:
    """(members who signed up, of them with BitBadges, the BitBadges figure per stage)."""
    data = admin_client.get(FUNNEL).context["funnel"]
    return (
        data.stages[0]["count"],
        data.bitbadges_signups,
        [stage["bitbadges"] for stage in data.stages],
    )


def test_a_password_sign_up_who_connects_bitbadges_at_once_is_not_counted(
    client, admin_client, siwbb_sandbox
):
    signed_up = client.post(
        "/signup/",
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert signed_up.status_code == 302, signed_up.content[:300]
    carol = User.objects.get(username="carol")
    client.force_login(carol)  # the confirmation email is optional: carry on at once
    started = client.post("/auth/bitbadges/login/", {"process": "connect", "next": "/profile/"})
    if started["Location"].startswith("/reauthenticate/"):
        started = client.post(started["Location"], {"password": PASSWORD})
    assert started.status_code == 302, started.content[:300]
    assert back(client, at_bitbadges(started["Location"], address=ALICE_BB)).status_code == 302
    carol.refresh_from_db()
    assert carol.address_proven and SocialAccount.objects.filter(user=carol).exists()
    assert carol.signup_method != "bitbadges"
    assert counted(admin_client) == (1, 0, [0, 0, 0, 0, 0, 0])


def test_a_bitbadges_sign_up_who_disconnects_later_still_counts(
    client, admin_client, siwbb_sandbox
):
    assert sign_in(client, address=ALICE_BB).status_code == 302
    newcomer = User.objects.get(is_staff=False)
    assert newcomer.signup_method == "bitbadges"
    newcomer.set_password(PASSWORD)  # disconnecting needs another way in
    newcomer.save(update_fields=["password"])
    client.force_login(newcomer)
    login = SocialAccount.objects.get(user=newcomer)
    gone = client.post("/profile/bitbadges/disconnect/", {"account": login.pk})
    if gone["Location"].startswith("/reauthenticate/"):  # confirm with the password first
        gone = client.post(gone["Location"], {"password": PASSWORD})
    assert gone.status_code == 302, gone.content[:300]
    newcomer.refresh_from_db()
    assert not SocialAccount.objects.exists() and not newcomer.address_proven
    # Signed up, proven once (the sign-up), an address: still a BitBadges sign-up.
    assert counted(admin_client) == (1, 1, [1, 1, 1, 0, 0, 0])


def test_the_recorded_method_decides_whatever_the_logins_say(admin_client):
    """Without the sandbox: a password member whose BitBadges login was made in the same
    second as the account, and a BitBadges sign-up with no login left."""
    proven_member("pw", address=address_for("pw"), signed_up=False)
    assert counted(admin_client)[:2] == (1, 0)
    gone = proven_member("bb", address=address_for("bb"))
    SocialAccount.objects.filter(user=gone).delete()
    # The page shows the figures it has, saying how old, while the worker counts again.
    assert admin_client.get(FUNNEL).context["funnel"].as_of is not None
    run_worker()
    assert counted(admin_client)[:2] == (2, 1)
