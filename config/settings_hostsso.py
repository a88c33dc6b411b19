"""Settings for sign-on from the host site, users/hostsso/ (star-imported through config/settings_host.py).

The host site's OpenID Connect provider, and this site registered there as a client with
the redirect URI {PUBLIC_URL}/auth/oidc/host/login/callback/. Sign-on is on when the
issuer, the client id and the client secret are all there (users/hostsso/config.py reads
them at each use, so tests can switch them); one or two of them without the others is a
`manage.py check` warning. With SANDBOX on, an empty HOST_OIDC_ISSUER means the sandbox's
own provider on PUBLIC_URL (/sandbox/host) and an empty HOST_SITE_NAME "Sandbox
Community"; `sandbox_setup` writes the sandbox's client id and secret into .env.
"""

from django.core.exceptions import ImproperlyConfigured

from config.environment import env as _env

# The name members know the host site by: the button says "Log in with <HOST_SITE_NAME>".
# Empty: the issuer's host name (or "Sandbox Community" with SANDBOX on).
HOST_SITE_NAME = _env.str("HOST_SITE_NAME", default="").strip()
# The provider's issuer identifier, exactly as its discovery document
# (<issuer>/.well-known/openid-configuration) and its id_tokens say it, e.g.
# https://community.example.com. Its endpoints and keys are read from that document.
HOST_OIDC_ISSUER = _env.str("HOST_OIDC_ISSUER", default="").strip()
# The client the host site issued to this site.
HOST_OIDC_CLIENT_ID = _env.str("HOST_OIDC_CLIENT_ID", default="").strip()
HOST_OIDC_CLIENT_SECRET = _env.str("HOST_OIDC_CLIENT_SECRET", default="").strip()
# Seconds each call to the provider (discovery, token, keys, userinfo) may take.
HOST_OIDC_TIMEOUT = _env.float("HOST_OIDC_TIMEOUT", default=5.0)
if not 0 < HOST_OIDC_TIMEOUT <= 60:
    raise ImproperlyConfigured(
        f"HOST_OIDC_TIMEOUT is seconds, more than 0 and at most 60, not {HOST_OIDC_TIMEOUT}."
    )
