"""Log in with a username or an email address."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class UsernameOrEmailBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        User = get_user_model()
        if "@" in username:
            candidates = list(User._default_manager.filter(email__iexact=username)[:2])
            # An email shared by two members names nobody; they must use their username.
            user = candidates[0] if len(candidates) == 1 else None
        else:
            user = User._default_manager.filter(username=username).first()
        if user is None:
            # Run the hasher anyway so the response time does not reveal who exists.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
