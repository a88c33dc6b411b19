"""System checks of the sandbox: does the product hold the credentials the sandbox accepts?

Settings no longer default to the sandbox's credentials (the product never imports the
sandbox); `manage.py sandbox_setup` writes them into the env file instead. When they are
missing or different, every call the product makes to the sandbox is refused, so
`manage.py check` (and every command that runs the checks) says so, and what to run. The
same goes for the sandbox's workflows: the product calls only the endpoints
PIPEDREAM_WORKFLOW_ENDPOINTS lists, so that list must hold the sandbox's (among others).
"""

from django.conf import settings
from django.core import checks

from sandbox.credentials import LIST_SETTINGS, SANDBOX_SETTINGS, SIWBB_SETTINGS, missing_entries

SETUP_HINT = (
    "Run `python manage.py sandbox_setup` (make run does): it writes the sandbox's values "
    "into .env where they are missing or empty. It never changes a value you set there, nor "
    "the environment's (which wins over .env): clear a wrong one. To use real Pipedream and "
    "BitBadges instead, set SANDBOX=false."
)


def sandbox_credentials_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """sandbox.W001: the sandbox is mounted but the product's credentials are not its own.
    sandbox.W002: PIPEDREAM_WORKFLOW_ENDPOINTS leaves out some of the sandbox's workflows.
    sandbox.W003: a BitBadges client ID or secret is set, but not to the sandbox's app."""
    return [*_credentials(), *_lists(), *_siwbb()]


def _credentials() -> list[checks.CheckMessage]:
    differ = [
        name
        for name, value in SANDBOX_SETTINGS.items()
        if name not in LIST_SETTINGS and getattr(settings, name, "") != value
    ]
    if not differ:
        return []
    names = ", ".join(differ)
    verb = "is" if len(differ) == 1 else "are"
    return [
        checks.Warning(
            f"The sandbox is mounted (SANDBOX=true) but {names} {verb} not the sandbox's "
            "credentials, so it will refuse the app's calls to its Pipedream and BitBadges.",
            hint=SETUP_HINT,
            id="sandbox.W001",
        )
    ]


def _lists() -> list[checks.CheckMessage]:
    warnings: list[checks.CheckMessage] = []
    for name in sorted(LIST_SETTINGS):
        missing = missing_entries(name, getattr(settings, name, ""))
        if missing:
            warnings.append(
                checks.Warning(
                    f"The sandbox is mounted (SANDBOX=true) but {name} does not list its "
                    f"workflows {', '.join(missing)}, so the app will not call them (a claim "
                    "delivered by one of them fails, and cannot be saved).",
                    hint=f"{SETUP_HINT} Or add the ids to the {name} you set.",
                    id="sandbox.W002",
                )
            )
    return warnings


def _siwbb() -> list[checks.CheckMessage]:
    """Empty is fine (Sign In with BitBadges off); another app's credentials are not."""
    differ = [
        name
        for name, value in SIWBB_SETTINGS.items()
        if getattr(settings, name, "") and getattr(settings, name, "") != value
    ]
    if not differ:
        return []
    return [
        checks.Warning(
            f"The sandbox is mounted (SANDBOX=true) but {', '.join(differ)} "
            f"{'is' if len(differ) == 1 else 'are'} not its developer app's, so its Sign In "
            "with BitBadges page and token exchange will refuse this site.",
            hint=SETUP_HINT,
            id="sandbox.W003",
        )
    ]
