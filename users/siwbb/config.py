"""Where Sign in with BitBadges talks to, read from settings each time (tests switch them)."""

from django.conf import settings
from django.urls import reverse

PROVIDER_ID = "bitbadges"
BITBADGES_AUTHORIZE_URL = "https://bitbadges.io/siwbb/authorize"
TOKEN_PATH = "/api/v0/siwbb/token"


def siwbb_enabled() -> bool:
    """Whether the site has a BitBadges client: both its id and its secret."""
    return bool(settings.BITBADGES_CLIENT_ID and settings.BITBADGES_CLIENT_SECRET)


def authorize_url() -> str:
    """BitBadges' sign-in page, or the sandbox's in sandbox mode (unless set)."""
    if settings.BITBADGES_SIWBB_AUTHORIZE_URL:
        return settings.BITBADGES_SIWBB_AUTHORIZE_URL
    if settings.SANDBOX:
        return f"{settings.PUBLIC_URL}/sandbox/bitbadges/siwbb/authorize"
    return BITBADGES_AUTHORIZE_URL


def token_url() -> str:
    return settings.BITBADGES_API_URL + TOKEN_PATH


def callback_url() -> str:
    """The redirect URI registered at BitBadges: always on PUBLIC_URL, never the Host."""
    return settings.PUBLIC_URL + reverse(f"{PROVIDER_ID}_callback")
