"""How the account was made (User.signup_method), recorded once at sign-up: "bitbadges" by
Sign in with BitBadges, "password" by the sign-up form. A later connect or disconnect does
not change it; users.siwbb.selectors reads it for the funnel."""

import pytest
from django.contrib.auth import get_user_model

from tests.siwbb.siwbb_support import BOB_BB, sign_in
from users.siwbb.selectors import signed_up_with_bitbadges, signed_up_with_bitbadges_exists

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "purple-Kettle-42-river"


def _counted() -> list[str]:
    return list(
        get_user_model()
        .objects.filter(signed_up_with_bitbadges_exists())
        .values_list("username", flat=True)
    )


def test_a_bitbadges_sign_up_is_recorded_and_stays_after_a_disconnect(client, siwbb):
    sign_in(client)
    member = get_user_model().objects.get()
    assert member.signup_method == "bitbadges" and signed_up_with_bitbadges(member)
    assert _counted() == [member.username]
    member.socialaccount_set.all().delete()
    member.refresh_from_db()
    assert signed_up_with_bitbadges(member) and _counted() == [member.username]


def test_a_password_sign_up_is_recorded_and_a_connect_at_once_does_not_count(client, siwbb):
    response = client.post(
        "/signup/",
        {
            "username": "carol",
            "email": "carol@example.com",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    assert response.status_code == 302
    carol = get_user_model().objects.get(username="carol")
    assert carol.signup_method == "password"
    client.force_login(carol)
    assert client.post("/reauthenticate/", {"password": PASSWORD}).status_code == 302
    sign_in(client, address=BOB_BB, process="connect")
    carol.refresh_from_db()
    assert carol.socialaccount_set.count() == 1 and carol.signup_method == "password"
    assert not signed_up_with_bitbadges(carol) and _counted() == []


def test_a_member_made_by_staff_has_none(django_user_model):
    member = django_user_model.objects.create_user(username="dora", password=PASSWORD)
    assert member.signup_method == "" and not signed_up_with_bitbadges(member)
