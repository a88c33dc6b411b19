"""Sign-on from the host site, mounted at /auth/ (config/urls.py).

/auth/oidc/host/login/callback/ is the redirect URI registered at the host site: a
contract; /auth/oidc/host/login/ (POST) starts a sign-in.
"""

from django.urls import include, path

from users.hostsso import PROVIDER_ID, views

urlpatterns = [
    path(
        f"oidc/{PROVIDER_ID}/",
        include(
            [
                path("login/", views.login, name=f"{PROVIDER_ID}_login"),
                path("login/callback/", views.callback, name=f"{PROVIDER_ID}_callback"),
                path(
                    "login/cancelled/",
                    views.login_cancelled,
                    name=f"{PROVIDER_ID}_login_cancelled",
                ),
                # Confirm with <host> (members without a password; users/siwbb/reauth.py).
                path("reauthenticate/", views.reauthenticate, name=f"{PROVIDER_ID}_reauthenticate"),
                path("disconnect/", views.disconnect, name=f"{PROVIDER_ID}_disconnect"),
            ]
        ),
    ),
]
