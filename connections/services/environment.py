"""Pipedream's development environment on a site others use: what operators are told.

Development allows 10 external users, each of whom must be signed in to pipedream.com in
the same browser while connecting, and is not meant for production (Pipedream's docs,
connect/managed-auth/environments). /healthz and `manage.py pipedream_check` say so.
"""

from urllib.parse import urlsplit

from django.conf import settings

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
DEVELOPMENT_LIMITS = (
    "In Pipedream's development environment at most 10 members can connect accounts, "
    "and each must be signed in to pipedream.com in the same browser while connecting."
)
PUBLIC_DEVELOPMENT = (
    "PIPEDREAM_PROJECT_ENVIRONMENT is development on a public URL. "
    + DEVELOPMENT_LIMITS
    + " Set it to production before members use the site."
)


def is_development() -> bool:
    return settings.PIPEDREAM_PROJECT_ENVIRONMENT == "development"


def public_development_warning() -> str | None:
    """PUBLIC_DEVELOPMENT when the site runs in development on a URL others can reach
    (PUBLIC_URL's host is not localhost, 127.0.0.1 or ::1); else None."""
    if not is_development():
        return None
    host = (urlsplit(settings.PUBLIC_URL).hostname or "").lower()
    return None if host in LOCAL_HOSTS else PUBLIC_DEVELOPMENT
