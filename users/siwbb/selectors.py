"""Reads about members' BitBadges logins (for the profile, the funnel, the admin, exports)."""

from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.db.models import Q

from users.models import User
from users.siwbb.config import PROVIDER_ID


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


def signed_up_with_bitbadges_exists() -> Q:
    """For User querysets: .filter(signed_up_with_bitbadges_exists()): the member's account
    was made by a sign-up with BitBadges (User.signup_method, recorded at sign-up; kept
    if they disconnect later, never set by a connect). The name is older than the field."""
    return Q(signup_method=User.SignupMethod.BITBADGES)


def signed_up_with_bitbadges(member) -> bool:
    return member.signup_method == User.SignupMethod.BITBADGES


def bitbadges_only_members():
    """Active members whose only way in is a BitBadges login (no usable password)."""
    return User.objects.filter(
        is_active=True,
        password__startswith=UNUSABLE_PASSWORD_PREFIX,
        socialaccount__provider=PROVIDER_ID,
    ).distinct()
