"""What a claim may name: the operator's allowlists, never the admin's.

A claim runs its criterion (a Pipedream action) and its trigger (a Pipedream source) on
members' accounts, with the members' credentials. Whoever may edit a claim must not be
able to make it write with them (github-create-issue), so the components a claim may
name, and the hosts a criterion proxy URL may read, come from the environment
(config/settings.py: CLAIMS_READ_COMPONENTS, CLAIMS_PROXY_HOSTS), set by whoever runs
the site. They are checked when a claim is saved (Claim.clean) and again right before
each call (claims/engine/evaluation.py, claims/triggers/deploy.py), so a row saved
before a list shrank, or written straight to the database, is refused and never run.

This module imports no model: settings parse their lists with it.
"""

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

COMPONENTS_SETTING = "CLAIMS_READ_COMPONENTS"
HOSTS_SETTING = "CLAIMS_PROXY_HOSTS"

# Components of PipedreamHQ/pipedream (components/<app>/actions|sources/<name>/) that only
# read the account they run on. Sources register the webhook or timer they listen with,
# and nothing else. Each is named with its path in docs/fidelity.md (row 79).
DEFAULT_READ_COMPONENTS: tuple[str, ...] = (
    # Actions, for criteria.
    "github-get-current-user",
    "github-get-repository",
    "github-list-organizations",
    "slack-get-current-user",
    "google_sheets-get-current-user",
    "discord-get-message",
    # Sources, for triggers.
    "github-new-star",
    "discord-guild-member",
    "slack-new-user-added",
    "google_sheets-new-row-added-polling",
)

# API hosts of the apps the site connects, as their Pipedream `connect.allowed_domains`
# name them, where a GET only reads. A criterion proxy URL is read with GET only
# (connections/pipedream/proxy.py), which keeps it read-only on REST APIs. Not slack.com:
# Slack's Web API takes every method's arguments in a GET query string, writes included
# (https://slack.com/api/chat.postMessage?channel=...&text=... posts as the member).
DEFAULT_PROXY_HOSTS: tuple[str, ...] = (
    "api.github.com",
    "gitlab.com",
    "discord.com",
    "sheets.googleapis.com",
)

# Pipedream's component keys: <app slug>-<name>, lowercase letters, digits, _ and -.
_COMPONENT_KEY = re.compile(r"^[a-z0-9_]+(?:-[a-z0-9_]+)+$")
# A host name: dot-separated labels of letters, digits and hyphens (claims/models.py
# holds a criterion proxy URL's host to it as well).
HOST_NAME = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{1,63}$")


def _parse(
    entries: Iterable[str] | None,
    default: tuple[str, ...],
    valid: "re.Pattern[str]",
    refusal: str,
    *,
    fold_case: bool = False,
) -> tuple[str, ...]:
    """A list setting as set (None: `default`), blanks and repeats dropped (and lowercased
    with fold_case); an entry `valid` does not match stops startup with `refusal`, which
    names it where it says {entry!r}."""
    if entries is None:
        return default
    kept = []
    for entry in entries:
        value = entry.strip().lower() if fold_case else entry.strip()
        if not value:
            continue
        if not valid.match(value):
            raise ImproperlyConfigured(refusal.format(entry=entry.strip()))
        kept.append(value)
    return tuple(dict.fromkeys(kept))


def parse_components(entries: Iterable[str] | None) -> tuple[str, ...]:
    """CLAIMS_READ_COMPONENTS as set (None: the defaults); a malformed key stops startup."""
    return _parse(
        entries,
        DEFAULT_READ_COMPONENTS,
        _COMPONENT_KEY,
        f"{COMPONENTS_SETTING} lists {{entry!r}}, which is not a Pipedream component key "
        "(lowercase <app>-<name>, e.g. github-get-current-user).",
    )


def parse_hosts(entries: Iterable[str] | None) -> tuple[str, ...]:
    """CLAIMS_PROXY_HOSTS as set (None: the defaults); anything but a bare host name
    (a scheme, port, path or wildcard) stops startup."""
    return _parse(
        entries,
        DEFAULT_PROXY_HOSTS,
        HOST_NAME,
        f"{HOSTS_SETTING} lists {{entry!r}}: give bare host names, e.g. api.github.com "
        "(no scheme, port, path or wildcard).",
        fold_case=True,
    )


def _setting(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(getattr(settings, name, default))


def read_components() -> tuple[str, ...]:
    return _setting(COMPONENTS_SETTING, DEFAULT_READ_COMPONENTS)


def proxy_hosts() -> tuple[str, ...]:
    return _setting(HOSTS_SETTING, DEFAULT_PROXY_HOSTS)


def component_problem(key: str) -> str:
    """Why a claim may not name component `key`, or "" when it may."""
    if key in read_components():
        return ""
    return (
        f"{key} is not among the Pipedream components claims may use: the site's operator "
        f"lists them in {COMPONENTS_SETTING} (read-only ones only), and only they can add one."
    )


def proxy_url_problem(url: str) -> str:
    """Why a criterion proxy URL may not be read, or "" when it may.

    A path (for an app whose base URL is the member's account's, e.g. GitLab: Pipedream
    joins it to the host the member connected) is not held to CLAIMS_PROXY_HOSTS: it can
    only reach the member's own server, with the member's own credentials, and only with
    GET; the hosts of self-hosted accounts are the members' to choose, so no list of the
    operator's could name them. Which apps take a path at all is Claim.clean's and the
    client's check (the app's base URL must depend on the account).
    """
    if url.startswith("/"):
        return ""
    host = _host_of(url)
    if host and host in proxy_hosts():
        return ""
    return (
        f"{host or 'This URL'} is not among the hosts a criterion may read through the "
        f"proxy: the site's operator lists them in {HOSTS_SETTING}, and only they can add one."
    )


def _host_of(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""
