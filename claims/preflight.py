"""What checking a claim before it goes live is made of: the claim's settings as checked,
the problems found, the lookups every delivery method uses, and the claim's Pipedream
components looked up (`component_problems`, at the end).

The admin checks a claim when it is saved, and `manage.py bitbadges_check` every enabled
claim, through services.claim_problems; each delivery method's `check_settings`
(claims/engine/methods/) checks its BitBadges claim its own way (docs/fidelity.md,
"Claims checked before they go live"):

- bitbadges: the server completes the claim for the member's address with its API key,
  which BitBadges allows only when the claim has no sign-in (`initiatedBy`) and is gated
  by a `password` plugin whose password only this site knows. Plugins that need the
  member's own BitBadges session or input (social logins, codes) can never pass.
- dynamic_store: the member claims on BitBadges themselves, so sign-in is normal there;
  the claim needs a `whitelist` plugin (the store is private, so which store it reads is
  not visible with an API key), and the store must accept the secret we hold.
- workflow: the workflow does what it likes; a claim ID given must exist.

Only calls that change nothing are made: the claim fetch, a simulation (which uses
nothing up) and a store lookup, each with an address nobody owns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from claims import bitbadges
from connections import pipedream

# The all-zero address (BitBadges' `anonymous` plugin uses it): nobody's, so a lookup
# or a simulation with it changes nothing and reveals nothing.
PROBE_ADDRESS = "bb1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqs7gvmv"

SIGN_IN = "initiatedBy"
PASSWORD = "password"
WHITELIST = "whitelist"
# Plugins a backend with only an API key can never satisfy: they read the member's own
# BitBadges session (social connections) or an input only the member has (a code).
NEEDS_THE_MEMBER = {
    "discord": "Discord",
    "github": "GitHub",
    "github-contributions": "GitHub contributions",
    "google": "Google",
    "twitch": "Twitch",
    "twitter": "X (Twitter)",
    "email": "email",
    "codes": "claim codes",
}
# Plugins that pass or fail on their own, whoever completes the claim.
HARMLESS = {"numUses", "transferTimes", "halt", "custom-instructions", "url-clicker", WHITELIST}


@dataclass(frozen=True)
class Problem:
    """Something to change on BitBadges (or in the claim here). `field` is the admin
    form field it concerns (None: the claim as a whole); `blocking` ones stop a save."""

    text: str
    field: str | None = None
    blocking: bool = True


class CheckUnavailable(Exception):
    """BitBadges (or Pipedream) could not be asked (down, throttled, refusing our key, out
    of credits)."""


@dataclass(frozen=True)
class ClaimSettings:
    """What the check needs of a claim, saved or not (the admin checks a form)."""

    delivery: str
    bitbadges_claim_id: str = ""
    password_instance_id: str = ""
    password: str = ""
    store_id: str = ""
    store_secret: str = ""

    @classmethod
    def of(cls, claim) -> ClaimSettings:
        return cls(
            delivery=claim.delivery,
            bitbadges_claim_id=claim.bitbadges_claim_id,
            password_instance_id=claim.password_instance_id,
            password=claim.password() if claim.has_password else "",
            store_id=claim.store_id,
            store_secret=claim.store_secret() if claim.has_store_secret else "",
        )


def fetch_claim(client, claim_id: str) -> dict | Problem:
    try:
        return client.get_claim(claim_id)
    except bitbadges.ClaimNotFound:
        return Problem(
            f"BitBadges has no claim {claim_id!r}. Copy the claim ID from the claim builder.",
            field="bitbadges_claim_id",
        )


def plugins(claim: dict) -> list[dict]:
    return [plugin for plugin in claim.get("plugins") or [] if isinstance(plugin, dict)]


# --- The claim's Pipedream components ------------------------------------------------


@dataclass(frozen=True)
class ComponentSettings:
    """What `component_problems` reads of a claim, saved or not (hashable: the admin keeps
    the answer for the save that follows)."""

    app_slug: str = ""
    app_name: str = ""
    action: str = ""
    action_props: str = "{}"
    trigger: str = ""
    trigger_props: str = "{}"

    @classmethod
    def of(cls, claim) -> ComponentSettings:
        """A claim's trigger."""
        app = claim.trigger_app
        return cls(
            app_slug=app.slug if app is not None else "",
            app_name=app.name if app is not None else "",
            trigger=claim.trigger,
            trigger_props=_props_json(claim.trigger_props),
        )

    @classmethod
    def of_requirement(cls, requirement) -> ComponentSettings:
        """A requirement's action (none for an account or a proxy read)."""
        app = requirement.app if requirement.app_id else None
        runs_action = requirement.kind == requirement.Kind.ACTION
        return cls(
            app_slug=app.slug if app is not None else "",
            app_name=app.name if app is not None else "",
            action=requirement.action if runs_action else "",
            action_props=_props_json(requirement.props),
        )


def _props_json(props: Any) -> str:
    return json.dumps(props if isinstance(props, dict) else {}, sort_keys=True)


def component_problems(settings: ComponentSettings) -> list[Problem]:
    """A requirement's action, or a claim's trigger, as Pipedream defines it: a key it does
    not know, a component of the other kind or for another app, or a required prop the
    claim does not give, each with Pipedream's own words (on the form field it concerns:
    a requirement's action and props, a claim's trigger and trigger_props).
    CheckUnavailable when Pipedream cannot be asked."""
    wanted = [
        ("action", settings.action, settings.action_props, "action", "props"),
        ("trigger", settings.trigger, settings.trigger_props, "trigger", "trigger_props"),
    ]
    wanted = [item for item in wanted if item[1]]
    if not wanted:
        return []
    try:
        client = pipedream.get_client()
    except pipedream.NotConfigured as exc:
        raise CheckUnavailable(str(exc)) from exc
    problems: list[Problem] = []
    for kind, key, props_json, field, props_field in wanted:
        try:
            definition = client.definition(key)
        except pipedream.NotFound as exc:
            said = (exc.message or "not found").rstrip(". ")
            problems.append(
                Problem(
                    f"Pipedream has no component {key!r} (it says: {said}). Copy the key "
                    "from the component's page in Pipedream's registry, e.g. "
                    "github-get-current-user.",
                    field=field,
                )
            )
            continue
        except pipedream.BadRequest as exc:
            problems.append(Problem(f"Pipedream refused {key!r}: {exc.message}", field=field))
            continue
        except pipedream.PipedreamError as exc:
            raise CheckUnavailable(str(exc)) from exc
        problems.extend(
            _definition_problems(settings, definition, kind, json.loads(props_json), field)
        )
        problems.extend(_props_problems(key, definition, json.loads(props_json), props_field))
    return problems


def _definition_problems(
    settings: ComponentSettings, definition: dict, kind: str, props: dict, field: str
) -> list[Problem]:
    key = definition.get("key") or ""
    found = definition.get("component_type")
    if isinstance(found, str) and found and found != kind:
        article = "an" if kind == "action" else "a"
        return [Problem(f"{key} is a {found}, not {article} {kind}.", field=field)]
    app = pipedream.app_prop(definition)
    if app is None:
        return [
            Problem(f"{key} takes no app account, so it cannot run on the member's.", field=field)
        ]
    if settings.app_slug and app.get("app") not in (None, settings.app_slug):
        return [
            Problem(
                f"{key} runs on a {app.get('app')} account, not {settings.app_name}: choose "
                "that app, or a component of this one.",
                field=field,
            )
        ]
    return []


def _props_problems(key: str, definition: dict, props: dict, field: str) -> list[Problem]:
    defined = [p for p in definition.get("configurable_props") or [] if isinstance(p, dict)]
    problems = []
    missing = pipedream.missing_props(defined, props)
    if missing:
        problems.append(Problem(pipedream.missing_text(key, missing) + ".", field=field))
    known = {p.get("name") for p in defined}
    unknown = sorted(name for name in props if name not in known)
    if unknown and not pipedream.reloads_props(definition):
        problems.append(
            Problem(
                f"{key} has no prop {', '.join(unknown)}; Pipedream ignores it. Its props are "
                f"{', '.join(sorted(str(n) for n in known if n))}.",
                field=field,
                blocking=False,
            )
        )
    return problems
