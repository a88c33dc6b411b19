"""Reads about members' host-site logins (SocialAccount provider "host", uid: the host's
`sub`), for the profile, the re-authentication and the system check."""

from allauth.socialaccount.models import SocialAccount
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX

from users.hostsso import PROVIDER_ID
from users.models import User


def host_login(member) -> SocialAccount | None:
    """The member's host-site login (one at most: connecting a second is refused)."""
    if member is None or not member.pk:
        return None
    return (
        SocialAccount.objects.filter(user_id=member.pk, provider=PROVIDER_ID).order_by("pk").first()
    )


def only_way_in(member, login: SocialAccount) -> bool:
    """Whether `login` is the member's only way in: no usable password, no other login."""
    if member.has_usable_password():
        return False
    return not SocialAccount.objects.filter(user_id=member.pk).exclude(pk=login.pk).exists()


def host_only_members():
    """Active members whose only way in is a host-site login (no usable password, no
    other login): they are locked out while host sign-on is off."""
    others = SocialAccount.objects.exclude(provider=PROVIDER_ID).values("user_id")
    return (
        User.objects.filter(
            is_active=True,
            password__startswith=UNUSABLE_PASSWORD_PREFIX,
            socialaccount__provider=PROVIDER_ID,
        )
        .exclude(pk__in=others)
        .distinct()
    )
