"""Settings for fitting into the site that runs Connect & Claim (the host site): its
members signing on here through its own OpenID Connect provider, signed webhooks to it,
and the read API it calls.

Star-imported by config/settings.py, which adds HOST_APPS to INSTALLED_APPS; every
variable read from the environment is listed in `.env.example`.
"""

from config.settings_api import *  # noqa: F403
from config.settings_hostsso import *  # noqa: F403
from config.settings_webhooks import *  # noqa: F403

HOST_APPS = [
    "ninja",  # django-ninja's OpenAPI pages (its templates and static files)
    "users.hostsso",
    "webhooks",
    "api",
]
