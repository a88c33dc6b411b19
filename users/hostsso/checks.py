"""`manage.py check`: host sign-on needs its issuer, client id and secret together; members
who log in only with the host site need it on; and with SIGNUP_OPEN=false a half-made
setting means nobody can join."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.db import DatabaseError

from users.hostsso import config

_NAMES = ("HOST_OIDC_ISSUER", "HOST_OIDC_CLIENT_ID", "HOST_OIDC_CLIENT_SECRET")


@checks.register(checks.Tags.security)
def settings_complete(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Some of the three set (an issuer the sandbox gives does not count as set), not all."""
    given = [name for name in _NAMES if getattr(settings, name)]
    if not given or config.hostsso_enabled():
        return []
    missing = [
        name
        for name in _NAMES
        if name not in given and not (name == "HOST_OIDC_ISSUER" and config.issuer())
    ]
    closed = (
        " With SIGNUP_OPEN=false, nobody can join the site meanwhile."
        if not settings.SIGNUP_OPEN
        else ""
    )
    return [
        checks.Warning(
            f"{', '.join(given)} set but {', '.join(missing)} empty, so sign-on from the host "
            f"site is off.{closed}",
            hint=(
                "Set all three (the host site's OpenID Connect provider issues the client id "
                "and secret, with the redirect URI {PUBLIC_URL}/auth/oidc/host/login/callback/ "
                "registered there), or none to keep it off."
            ),
            id="hostsso.W001",
        )
    ]


@checks.register(checks.Tags.security)
def host_only_members_can_log_in(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Host sign-on is off while some members have no other way in."""
    # Imported here: this module is loaded as the app starts, before the models are.
    from users.hostsso.selectors import host_only_members

    if config.hostsso_enabled():
        return []
    try:
        stranded = host_only_members().count()
    except DatabaseError:
        return []  # no database yet (before migrate): nobody to strand
    if not stranded:
        return []
    return [
        checks.Warning(
            f"Sign-on from the host site is off (HOST_OIDC_* incomplete), but {stranded} "
            "active member(s) log in only with the host site (no password): they cannot log in.",
            hint=(
                "Set HOST_OIDC_ISSUER, HOST_OIDC_CLIENT_ID and HOST_OIDC_CLIENT_SECRET again. "
                "Before turning it off for good, ask these members to set a password on their "
                "profile."
            ),
            id="hostsso.W002",
        )
    ]


@checks.register(checks.Tags.security, deploy=True)
def issuer_is_https(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """An http issuer sends the codes and tokens in clear (the sandbox's own is exempt)."""
    issuer = settings.HOST_OIDC_ISSUER
    if not issuer or urlsplit(issuer).scheme == "https" or settings.DEBUG:
        return []
    return [
        checks.Warning(
            "HOST_OIDC_ISSUER is not an https URL: sign-in codes and tokens would cross the "
            "network in clear.",
            hint="Use the host site's https issuer (OpenID Connect requires it).",
            id="hostsso.W003",
        )
    ]
