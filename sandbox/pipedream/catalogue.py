"""The sandbox's app catalogue: the demo apps, their default profiles and demo workflows.

A static stand-in for Pipedream's registry. Apps are plain dicts shaped like the API's
App object (docs §3), except `img_src`, which `app_json()` makes absolute: the logos are
small original SVG tiles under static/sandbox/logos/, so the catalogue works offline.

Each connected account carries a `profile` (what the emulated upstream would report:
a GitHub login, its repos, the Discord guilds it is in). `default_profile()` derives one
from the account's name so demos and tests can make criteria pass or fail at will:
a name containing "pro" gets a well-established account, any other name a new one.
"""

import hashlib
import json
from urllib.parse import urljoin

from django.conf import settings
from django.templatetags.static import static

# Kept in sync with Pipedream's real name slugs, so switching to the real service keeps
# the site's App rows meaningful.
_APPS = [
    {
        "name_slug": "github",
        "name": "GitHub",
        "auth_type": "oauth",
        "description": "Where the world builds software.",
        "categories": ["Developer Tools"],
        "featured_weight": 9000,
        "scopes": ["read:user", "user:email", "repo"],
        "actions": True,
        "triggers": True,
        "domains": ["api.github.com"],
    },
    {
        "name_slug": "slack",
        "name": "Slack",
        "auth_type": "oauth",
        "description": "Messaging for teams.",
        "categories": ["Communication"],
        "featured_weight": 8800,
        "scopes": ["users:read", "team:read", "chat:write"],
        "actions": True,
        "triggers": True,
        "domains": ["slack.com"],
    },
    {
        "name_slug": "google_sheets",
        "name": "Google Sheets",
        "auth_type": "oauth",
        "description": "Create, edit and share spreadsheets.",
        "categories": ["Productivity"],
        "featured_weight": 8700,
        "scopes": ["https://www.googleapis.com/auth/spreadsheets.readonly"],
        "actions": True,
        "triggers": True,
        "domains": ["sheets.googleapis.com"],
    },
    {
        "name_slug": "discord",
        "name": "Discord",
        "auth_type": "oauth",
        "description": "Voice, video and text chat for communities.",
        "categories": ["Communication"],
        "featured_weight": 8500,
        "scopes": ["identify", "guilds", "guilds.members.read"],
        "actions": True,
        "triggers": True,  # discord-guild-member (sandbox/pipedream/components.py)
        "domains": ["discord.com"],
    },
    {
        "name_slug": "gitlab",
        "name": "GitLab",
        "auth_type": "oauth",
        "description": "The DevSecOps platform.",
        "categories": ["Developer Tools"],
        "featured_weight": 7000,
        "scopes": ["read_user", "read_api"],
        "actions": True,
        "triggers": True,
        "domains": ["gitlab.com"],
        # The account's own GitLab host (self-hosted or not): Pipedream's app API, as
        # printed in pipedream.com/docs/connect/components and .../connect/api-proxy.
        "base_proxy_target_url": "https://{{custom_fields.base_api_url}}",
    },
    {
        "name_slug": "notion",
        "name": "Notion",
        "auth_type": "oauth",
        "description": "Notes, docs and wikis in one workspace.",
        "categories": ["Productivity"],
        "featured_weight": 8000,
        "scopes": [],
        "actions": True,
        "triggers": True,
        "domains": ["api.notion.com"],
    },
    {
        "name_slug": "linear_app",
        "name": "Linear",
        "auth_type": "oauth",
        "description": "Issue tracking for product teams.",
        "categories": ["Project Management"],
        "featured_weight": 6000,
        "scopes": ["read"],
        "actions": True,
        "triggers": False,
        "domains": ["api.linear.app"],
    },
    {
        "name_slug": "trello",
        "name": "Trello",
        "auth_type": "oauth",
        "description": "Boards, lists and cards.",
        "categories": ["Project Management"],
        "featured_weight": 5000,
        "scopes": ["read"],
        "actions": False,
        "triggers": True,
        "domains": ["api.trello.com"],
    },
    {
        "name_slug": "openai",
        "name": "OpenAI (ChatGPT)",
        "auth_type": "keys",
        "description": "Models for text, images and speech.",
        "categories": ["Artificial Intelligence (AI)"],
        "featured_weight": 7500,
        "scopes": [],
        "actions": True,
        "triggers": False,
        "custom_fields": [
            {"name": "api_key", "label": "API Key", "type": "password"},
            {
                "name": "organization",
                "label": "Organization ID",
                "type": "string",
                "optional": True,
            },
        ],
        "domains": ["api.openai.com"],
    },
    {
        "name_slug": "stripe",
        "name": "Stripe",
        "auth_type": "keys",
        "description": "Payments infrastructure for the internet.",
        "categories": ["Payment Processing"],
        "featured_weight": 6500,
        "scopes": [],
        "actions": True,
        "triggers": True,
        "custom_fields": [{"name": "api_key", "label": "Secret key", "type": "password"}],
        "domains": ["api.stripe.com"],
    },
]

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _stable_id(prefix: str, seed: str, length: int = 6) -> str:
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big")
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return prefix + "".join(chars)


def _build(entry: dict) -> dict:
    slug = entry["name_slug"]
    return {
        "id": _stable_id("app_", slug),
        "name_slug": slug,
        "name": entry["name"],
        "auth_type": entry["auth_type"],
        "description": entry["description"],
        "img_src": f"sandbox/logos/{slug}.svg",  # made absolute by app_json()
        "custom_fields_json": json.dumps(entry.get("custom_fields", [])),
        "categories": entry["categories"],
        "featured_weight": entry["featured_weight"],
        "scope_profiles": (
            [{"name": "read_only", "scopes": entry["scopes"]}] if entry["scopes"] else []
        ),
        "connect": {
            "proxy_enabled": True,
            "allowed_domains": entry["domains"],
            "base_proxy_target_url": entry.get(
                "base_proxy_target_url", f"https://{entry['domains'][0]}"
            ),
        },
        # Not part of the API object; stripped by app_json().
        "_has_actions": entry["actions"],
        "_has_triggers": entry["triggers"],
        "_scopes": entry["scopes"],
    }


APPS: dict[str, dict] = {entry["name_slug"]: _build(entry) for entry in _APPS}
_BY_ID = {app["id"]: app for app in APPS.values()}


def find_app(slug_or_id: str | None) -> dict | None:
    """The catalogue entry for a name slug or an app_ id, or None."""
    if not slug_or_id:
        return None
    return APPS.get(slug_or_id) or _BY_ID.get(slug_or_id)


def app_scopes(slug: str) -> list[str]:
    return list(APPS[slug]["_scopes"])


def app_has(slug: str, kind: str) -> bool:
    """Whether the app has `kind` ("actions" or "triggers") components."""
    return bool(APPS[slug][f"_has_{kind}"])


def logo_url(slug: str, base_url: str | None = None) -> str:
    """Absolute URL of the app's logo: from `base_url` (a request's), else PUBLIC_URL."""
    base = (base_url or settings.PUBLIC_URL).rstrip("/") + "/"
    return urljoin(base, static(f"sandbox/logos/{slug}.svg").lstrip("/"))


def app_json(app: dict, base_url: str | None = None) -> dict:
    """The App object as the API answers it (docs §3): private keys dropped, logo absolute."""
    data = {key: value for key, value in app.items() if not key.startswith("_")}
    data["img_src"] = logo_url(app["name_slug"], base_url)
    return data


def get_catalogue_app(slug_or_id: str, base_url: str | None = None) -> dict:
    """The App object for a slug or id (for seeding); LookupError when unknown."""
    app = find_app(slug_or_id)
    if app is None:
        raise LookupError(f"The sandbox catalogue has no app {slug_or_id!r}.")
    return app_json(app, base_url)


# --- Profiles: what the emulated upstream says about an account ----------------------

# The Discord guild the demo claims look for; "pro" accounts are in it with a role.
DEMO_GUILD_ID = "1100000000000000001"
DEMO_STARRED_REPO = "bitbadges/bitbadgesjs"
DEMO_GITHUB_ORG = "bitbadges"


def _handle(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
    return "-".join(part for part in cleaned.split("-") if part) or "sandbox-user"


def _number(seed: str, low: int, high: int) -> int:
    digest = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:4], "big")
    return low + digest % (high - low + 1)


def default_profile(app_slug: str, name: str) -> dict:
    """A deterministic profile for a new account, derived from its name.

    A name containing "pro" (e.g. "octo-pro") gets an established account that meets
    the demo criteria (many repos and followers, an old account, the demo repo starred,
    in the demo Discord guild); any other name gets a brand-new, empty-ish one.
    """
    pro = "pro" in name.lower()
    handle = _handle(name)
    if app_slug == "github":
        return {
            "login": handle,
            # Everyone has at least one public repo, so the demo claim workflow
            # (public_repos >= 1) passes for any new account.
            "public_repos": _number(name, 25, 80) if pro else _number(name, 1, 3),
            "followers": _number(name + "f", 100, 900) if pro else _number(name + "f", 0, 5),
            "created_at": "2014-03-11T09:21:44Z" if pro else "2026-01-05T12:00:00Z",
            "starred": [DEMO_STARRED_REPO, "django/django"] if pro else [],
            # GET /user/repos (what github-new-star's repoFullname offers); the account
            # administers the ones it owns.
            "repos": [f"{handle}/hello-world"]
            + ([f"{handle}/dotfiles", f"{handle}/website"] if pro else []),
            "orgs": [DEMO_GITHUB_ORG] if pro else [],
            "teams": [{"org": DEMO_GITHUB_ORG, "name": "Contributors"}] if pro else [],
        }
    if app_slug == "discord":
        guilds = {DEMO_GUILD_ID: {"roles": ["member", "contributor"]}} if pro else {}
        return {"username": handle, "id": _stable_id("", handle, 10), "guilds": guilds}
    if app_slug == "slack":
        return {
            "user": handle,
            "user_id": _stable_id("U", handle, 9).upper(),
            "is_admin": pro,
            "team": {
                "id": _stable_id("T", name, 8).upper(),
                "name": "Sandbox Pro Team" if pro else "Sandbox Team",
                "domain": "sandbox-pro" if pro else "sandbox",
            },
        }
    if app_slug == "google_sheets":
        return {
            "email": f"{handle}@example.com",
            "display_name": name or handle,
            "spreadsheets": [
                {
                    "id": _stable_id("1", "sheet:" + handle, 20),
                    "name": "Sandbox sign-ups",
                    "worksheets": [
                        {
                            "sheetId": 0,
                            "title": "Sheet1",
                            "rows": [["name", "email"], [handle, f"{handle}@example.com"]],
                        }
                    ],
                }
            ],
        }
    if app_slug == "gitlab":
        return {"username": handle, "public_projects": _number(name, 10, 40) if pro else 0}
    return {"username": handle}


# --- Workflows: HTTP endpoints invoked for an external user (docs §5) ----------------

WORKFLOWS = {
    "en-sandbox-github": {
        "app": "github",
        "description": "Answers with the user's GitHub login and repo count.",
    },
    "en-sandbox-discord": {
        "app": "discord",
        "description": "Answers whether the user is in the demo Discord guild.",
    },
    # BitBadges' "end to end example": check a criterion on the connected account, then
    # complete a password-gated claim for the address in the body. "response" is how the
    # workflow answers (sandbox/pipedream/views/ _workflow_claim):
    # - "custom": its own $.respond, {"success": true, "claimAttemptId", ...} or
    #   {"success": false, "error"} with 400;
    # - "default-html" / "default-json": the HTTP trigger left on Pipedream's default
    #   response (docs-v2 triggers.mdx "Default HTTP response"; the JSON form as a 2022
    #   capture recorded it): 200 whatever the steps did;
    # - "action": custom response, with the official BitBadges "Complete Claim" action
    #   (PipedreamHQ/pipedream PR #15405) as the BitBadges step: a failed BitBadges call
    #   throws before $.respond, so Pipedream answers 400 "No $.respond called in workflow".
    "en-sandbox-claim-github": {
        "app": "github",
        "description": (
            'With {"address": ...}: if the GitHub account has a public repo, completes the '
            "workflow-github demo BitBadges claim for that address."
        ),
        "claim": "workflow-github",
        "min_public_repos": 1,
        "response": "custom",
    },
    "en-sandbox-claim-github-default": {
        "app": "github",
        "description": (
            "The same steps, its trigger left on Pipedream's default response: 200 "
            '"<p><b>Success!</b></p>..." (text/html) whatever the steps did.'
        ),
        "claim": "workflow-github",
        "min_public_repos": 1,
        "response": "default-html",
    },
    "en-sandbox-claim-github-default-json": {
        "app": "github",
        "description": (
            'The same steps, answered with the JSON default response {"success": true, '
            '"info": "To customize this response..."} whatever the steps did.'
        ),
        "claim": "workflow-github",
        "min_public_repos": 1,
        "response": "default-json",
    },
    "en-sandbox-claim-github-action": {
        "app": "github",
        "description": (
            "The same criterion; the claim is completed by BitBadges' official Pipedream "
            'action: a BitBadges refusal is 400 "No $.respond called in workflow".'
        ),
        "claim": "workflow-github",
        "min_public_repos": 1,
        "response": "action",
    },
}
