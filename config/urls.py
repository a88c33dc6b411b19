"""The site's URLs. The paths docs/architecture.md lists under "URLs other systems rely
on" are contracts: keep them (tests/test_url_contracts.py checks)."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from config import views
from users import views as users_views
from users.admin_access import secure_admin_site

# The admin's login is allauth's (rate limits, MFA); see users/admin_access.py.
secure_admin_site(admin.site)

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    # /brand.css and /brand/logo: the owner's accent colour and logo, on every page.
    path("", include("branding.urls")),
    # django-allauth's account views at the site's root: /login/, /logout/, /signup/,
    # /password/reset/ (and its steps), /password/change/, /email/, /confirm-email/<key>/.
    re_path(
        r"^confirm-email/(?P<key>[-:\w]+)/$",
        users_views.confirm_email,
        name="account_confirm_email",
    ),
    path("email/", users_views.email, name="account_email"),
    # Setting a first password asks the member to confirm it is them first (for a
    # member who logs in with BitBadges only: Confirm with BitBadges), page and POST.
    path("password/set/", users_views.password_set, name="account_set_password"),
    path("", include("allauth.account.urls")),
    # allauth.mfa beside the account URLs, where allauth.urls puts it: /2fa/ (overview),
    # /2fa/authenticate/ (the code at login), /2fa/totp/activate/, /2fa/recovery-codes/.
    path("2fa/totp/activate/", users_views.activate_totp, name="mfa_activate_totp"),
    path("2fa/recovery-codes/", users_views.view_recovery_codes, name="mfa_view_recovery_codes"),
    path("2fa/", include("allauth.mfa.urls")),
    # Sign in with BitBadges (allauth's social accounts, users/siwbb/): /auth/bitbadges/login/
    # (POST starts), /auth/bitbadges/login/callback/ (BitBadges' redirect URI, a contract),
    # allauth's pages under /auth/social/. Never /accounts/: that is our connected apps.
    path("auth/", include("users.siwbb.urls")),
    # Sign-on from the host site (users/hostsso/): /auth/oidc/host/login/ and its
    # callback /auth/oidc/host/login/callback/ (the redirect URI the host registers).
    path("auth/", include("users.hostsso.urls")),
    # /profile/: the member's own settings, and deleting their account (namespace "users").
    path("", include("members.urls")),
    # /profile/notifications/ (the email switches) and the emails' unsubscribe links.
    path("", include("notifications.urls")),
    path("admin/", admin.site.urls),
    # The read API for the host site (api/): /api/v1/..., its OpenAPI at /api/v1/openapi.json.
    path("api/", include("api.urls")),
    # /accounts/ and /connect/...: the member's connections.
    path("", include("connections.urls")),
    path("", include("claims.urls")),
]

if settings.SANDBOX:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
