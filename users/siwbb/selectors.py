"""Reads about members' BitBadges logins (for the profile, the funnel, the admin, exports)."""

from datetime import timedelta

from allauth.socialaccount.models import SocialAccount
from django.db.models import Exists, F, OuterRef

from users.siwbb.config import PROVIDER_ID

# A sign-up with BitBadges makes the member and their BitBadges login in one request; a
# login connected later is made at least this much after the member.
SIGNUP_WINDOW = timedelta(seconds=60)


def bitbadges_logins(member) -> list[SocialAccount]:
    """The member's BitBadges logins (uid: the bb1 address), oldest first."""
    return list(
        SocialAccount.objects.filter(user_id=member.pk, provider=PROVIDER_ID).order_by("pk")
    )


def bitbadges_uid(member) -> str:
    """The bb1 address of the member's (first) BitBadges login, or ""."""
    login = (
        SocialAccount.objects.filter(user_id=member.pk, provider=PROVIDER_ID)
        .order_by("pk")
        .values_list("uid", flat=True)
        .first()
    )
    return login or ""


def signed_up_with_bitbadges_exists() -> Exists:
    """For User querysets: .filter(signed_up_with_bitbadges_exists()) or .annotate(...):
    the member's account was made by a BitBadges sign-up (while that login is kept)."""
    return Exists(
        SocialAccount.objects.filter(
            user_id=OuterRef("pk"),
            provider=PROVIDER_ID,
            date_joined__lt=OuterRef("date_joined") + SIGNUP_WINDOW,
        )
    )


def signed_up_with_bitbadges(member) -> bool:
    return SocialAccount.objects.filter(
        user_id=member.pk,
        provider=PROVIDER_ID,
        date_joined__lt=F("user__date_joined") + SIGNUP_WINDOW,
    ).exists()
