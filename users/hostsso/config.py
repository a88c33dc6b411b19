"""Where sign-on from the host site talks to, read from settings at each use (tests switch
them; the sandbox's defaults follow PUBLIC_URL)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse

from users.hostsso import PROVIDER_ID

SANDBOX_PATH = "/sandbox/host"
SANDBOX_SITE_NAME = "Sandbox Community"
DISCOVERY_PATH = "/.well-known/openid-configuration"


def issuer() -> str:
    """HOST_OIDC_ISSUER, else with SANDBOX on the sandbox's provider on PUBLIC_URL."""
    if settings.HOST_OIDC_ISSUER:
        return settings.HOST_OIDC_ISSUER
    if settings.SANDBOX:
        return settings.PUBLIC_URL + SANDBOX_PATH
    return ""


def discovery_url() -> str:
    """OpenID Connect Discovery 1.0, section 4: the issuer without a trailing slash, then
    the well-known path."""
    return issuer().rstrip("/") + DISCOVERY_PATH


def site_name() -> str:
    """What members call the host site: HOST_SITE_NAME, the sandbox's name, or the
    issuer's host name."""
    if settings.HOST_SITE_NAME:
        return settings.HOST_SITE_NAME
    if settings.SANDBOX and not settings.HOST_OIDC_ISSUER:
        return SANDBOX_SITE_NAME
    return urlsplit(issuer()).hostname or "the host site"


def hostsso_enabled() -> bool:
    """Whether members can sign on from the host site: issuer, client id and secret."""
    return bool(issuer() and settings.HOST_OIDC_CLIENT_ID and settings.HOST_OIDC_CLIENT_SECRET)


def callback_url() -> str:
    """The redirect URI registered at the host site: always on PUBLIC_URL, never the Host."""
    return settings.PUBLIC_URL + reverse(f"{PROVIDER_ID}_callback")


def timeout() -> float:
    return float(settings.HOST_OIDC_TIMEOUT)
