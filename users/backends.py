"""Log in with a username or an email address (allauth's backend, one rule stricter)."""

from allauth.account.auth_backends import AuthenticationBackend
from allauth.account.internal.userkit import filter_users_by_email


class UsernameOrEmailBackend(AuthenticationBackend):
    """allauth's backend, except that an email shared by two members names nobody.

    Sign-up keeps emails unique, but the admin can still give two members one address;
    trying the password against each of them would let one log in as the other. A
    verified owner wins over unverified ones (allauth's `prefer_verified`).
    """

    def _authenticate_by_email(self, email, password):
        users = filter_users_by_email(email, prefer_verified=True, for_login=True)
        if len(users) != 1:
            return None
        return self._check_password(users[0], password)
