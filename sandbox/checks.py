"""System checks of the sandbox: does the product hold the credentials the sandbox accepts?

Settings no longer default to the sandbox's credentials (the product never imports the
sandbox); `manage.py sandbox_setup` writes them into the env file instead. When they are
missing or different, every call the product makes to the sandbox is refused, so
`manage.py check` (and every command that runs the checks) says so, and what to run.
"""

from django.conf import settings
from django.core import checks

from sandbox.credentials import SANDBOX_SETTINGS


def sandbox_credentials_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """sandbox.W001: the sandbox is mounted but the product's credentials are not its own."""
    differ = [
        name for name, value in SANDBOX_SETTINGS.items() if getattr(settings, name, "") != value
    ]
    if not differ:
        return []
    names = ", ".join(differ)
    verb = "is" if len(differ) == 1 else "are"
    return [
        checks.Warning(
            f"The sandbox is mounted (SANDBOX=true) but {names} {verb} not the sandbox's "
            "credentials, so it will refuse the app's calls to its Pipedream and BitBadges.",
            hint=(
                "Run `python manage.py sandbox_setup` (make run does): it writes the "
                "sandbox's credentials into .env where they are missing or empty. It never "
                "changes a value you set there, nor the environment's (which wins over "
                ".env): clear a wrong one. To use real Pipedream and BitBadges instead, set "
                "SANDBOX=false."
            ),
            id="sandbox.W001",
        )
    ]
