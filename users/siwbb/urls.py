"""Mounted at /auth/ (config/urls.py): the provider's two URLs and allauth's social pages.

/auth/bitbadges/login/callback/ is the redirect URI registered at BitBadges: a contract
(docs/architecture.md).
"""

from allauth.account.decorators import reauthentication_required
from allauth.socialaccount import views as social_views
from django.urls import include, path

from users.siwbb import views
from users.siwbb.config import PROVIDER_ID

urlpatterns = [
    path(
        f"{PROVIDER_ID}/",
        include(
            [
                path("login/", views.oauth2_login, name=f"{PROVIDER_ID}_login"),
                path("login/callback/", views.oauth2_callback, name=f"{PROVIDER_ID}_callback"),
                # Confirm with BitBadges (members without a password; reauth.py).
                path("reauthenticate/", views.reauthenticate, name=f"{PROVIDER_ID}_reauthenticate"),
            ]
        ),
    ),
    # allauth's pages, under their own names: "you cancelled", the error page, the
    # sign-up form (not reached with auto sign-up), and the connections page, whose
    # Remove asks for the password first (as /profile/'s Disconnect does).
    path(
        "social/",
        include(
            [
                path(
                    "login/cancelled/",
                    views.login_cancelled,
                    name="socialaccount_login_cancelled",
                ),
                path("login/error/", social_views.login_error, name="socialaccount_login_error"),
                path("signup/", social_views.signup, name="socialaccount_signup"),
                path(
                    "",
                    reauthentication_required(social_views.connections, allow_get=True),
                    name="socialaccount_connections",
                ),
            ]
        ),
    ),
]
