"""What both social sign-ins share: Sign in with BitBadges (users/siwbb/) and sign-on from
the host site (users/hostsso/). Both import this module; it imports neither."""

from collections.abc import Callable

from allauth.mfa.models import Authenticator
from allauth.mfa.utils import is_mfa_enabled
from allauth.socialaccount.models import SocialAccount
from django.db import IntegrityError, transaction

USERNAME_ATTEMPTS = 5


def staff_without_authenticator(user) -> bool:
    """A staff account (or superuser) with no authenticator app or key: a social login
    neither logs it in nor connects to it (recovery codes alone are none)."""
    if user is None or user.pk is None or not (user.is_staff or user.is_superuser):
        return False
    return not is_mfa_enabled(user, types=[Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN])


def save_with_a_free_username(
    user, names: Callable[[int], str], *, provider: str, uid: str
) -> None:
    """Save a new member under the first free name `names(attempt)` gives. Another tab
    that saved this very login meanwhile: IntegrityError (the caller logs in to that
    account instead); no free name after USERNAME_ATTEMPTS: IntegrityError too."""
    for attempt in range(USERNAME_ATTEMPTS):
        user.username = names(attempt)
        try:
            with transaction.atomic():  # a savepoint: a taken name is tried again
                user.save()
            return
        except IntegrityError:
            user.pk = None
            user._state.adding = True
            if SocialAccount.objects.filter(provider=provider, uid=uid).exists():
                raise  # not the name: the login itself is taken
    raise IntegrityError("no free username")
