"""The components the sandbox emulates: real ones from Pipedream's registry.

Each definition copies the facts of a component in PipedreamHQ/pipedream
(`components/<app>/actions|sources/**`, the file and commit in `source`): its key, name,
version, type, its props with their real names, types, `optional`, remote options and
`reloadProps`, its dynamic props, and the shape of what its `run()` returns (actions) or
emits (triggers). The sandbox computes those results from the account's profile
(sandbox/pipedream/upstream_objects.py) instead of calling the upstream.

The app prop is the prop of type "app"; its NAME is the component's (`github`,
`googleSheets`), and `configured_props[<that name>]` carries `{"authProvisionId": ...}`.

Props the platform fills itself ($.service.db, $.interface.http|timer|apphook, alert) are
never required from the caller. A dynamic props id (`dyp_...`) names the dynamic props
computed for one component, account and set of reloadProps values: the sandbox derives it
from those instead of storing it, so a stale or foreign id is refused.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.pipedream import catalogue
from sandbox.pipedream import upstream_objects as up

REPO = "PipedreamHQ/pipedream"
ACTION = "action"
TRIGGER = "trigger"
PLATFORM_TYPES = {
    "$.service.db",
    "$.interface.http",
    "$.interface.timer",
    "$.interface.apphook",
    "alert",
}
# DEFAULT_POLLING_SOURCE_TIMER_INTERVAL of @pipedream/platform (15 minutes).
DEFAULT_TIMER = {"intervalSeconds": 900}
READ_ONLY = {"destructiveHint": False, "openWorldHint": True, "readOnlyHint": True}


class ComponentError(Exception):
    """A component cannot do what was asked (bad prop value, upstream 404): a 400."""


def prop_value(value):
    """A configured value, unwrapping the {"__lv": {label, value}} form of remote options."""
    if isinstance(value, dict) and isinstance(value.get("__lv"), dict):
        return value["__lv"].get("value")
    return value


def _blank(value) -> bool:
    return value is None or value == "" or value == []


@dataclass(frozen=True)
class Component:
    key: str
    name: str
    version: str
    component_type: str  # ACTION or TRIGGER
    app: str  # the app's name slug
    app_prop: str  # the app prop's NAME
    description: str
    source: str  # "<path> @ <commit>" in PipedreamHQ/pipedream
    props: tuple[dict, ...] = ()  # the ConfigurableProps after the app prop
    annotations: dict | None = None
    # Actions: (profile, props) -> (summary, ret)
    run: Callable[[dict, dict], tuple[str, Any]] | None = None
    # prop name -> (profile, props) -> a list of option dicts {label, value} or strings
    options: dict = field(default_factory=dict)
    # (profile, props) -> the dynamic props added after a reload
    dynamic: Callable[[dict, dict], list[dict]] | None = None
    # Triggers: (profile, props) -> a sample event, as the source would emit it
    sample: Callable[[dict, dict], dict] | None = None
    # Triggers: (account, props, event) -> None: change the profiles the event implies
    apply: Callable[[Any, dict, dict], None] | None = None
    # Triggers: (event) -> a reason the source would not emit it, or ""
    refuse: Callable[[dict], str] | None = None

    @property
    def component_id(self) -> str:
        return catalogue._stable_id("sc_", self.key, 8)

    def app_prop_json(self) -> dict:
        app = catalogue.APPS[self.app]
        return {"name": self.app_prop, "type": "app", "app": self.app, "label": app["name"]}

    def configurable_props(self, dynamic: list[dict] | None = None) -> list[dict]:
        return [self.app_prop_json(), *[dict(p) for p in self.props], *(dynamic or [])]

    def to_json(self) -> dict:
        """The Component object of GET /v1/connect/{project_id}/components/{key}."""
        data = {
            "key": self.key,
            "name": self.name,
            "version": self.version,
            "configurable_props": self.configurable_props(),
            "description": self.description,
            "component_type": self.component_type,
        }
        if self.annotations is not None:
            data["annotations"] = dict(self.annotations)
        return data

    def prop(self, name: str, dynamic: list[dict] | None = None) -> dict | None:
        return next((p for p in self.configurable_props(dynamic) if p["name"] == name), None)

    def reload_values(self, props: dict) -> dict:
        return {
            p["name"]: prop_value(props.get(p["name"])) for p in self.props if p.get("reloadProps")
        }

    def dynamic_props(self, profile: dict, props: dict) -> list[dict]:
        """The props additionalProps() adds once the reloadProps props are set ([] before)."""
        if self.dynamic is None or any(_blank(v) for v in self.reload_values(props).values()):
            return []
        return self.dynamic(profile, {k: prop_value(v) for k, v in props.items()})

    def dynamic_props_id(self, account_id: str, props: dict) -> str:
        seed = json.dumps([self.key, account_id, self.reload_values(props)], sort_keys=True)
        return catalogue._stable_id("dyp_", seed, 12)

    def missing(self, props: dict, dynamic: list[dict] | None = None) -> list[str]:
        """Names of the required props without a value (the app prop is checked apart)."""
        return [
            p["name"]
            for p in self.configurable_props(dynamic)[1:]
            if p["type"] not in PLATFORM_TYPES
            and not p.get("optional")
            and _blank(prop_value(props.get(p["name"])))
        ]

    def load_options(self, prop_name: str, profile: dict, props: dict) -> list:
        loader = self.options.get(prop_name)
        if loader is None:
            raise ComponentError(f"The prop {prop_name} of {self.key} has no remote options.")
        return loader(profile, {k: prop_value(v) for k, v in props.items()})


def _src(path: str, commit: str) -> str:
    return f"{path} @ {commit}"


def _string(name: str, label: str, description: str, **extra) -> dict:
    return {"name": name, "type": "string", "label": label, "description": description, **extra}


# --- GitHub --------------------------------------------------------------------------

REPO_FULLNAME = _string(
    "repoFullname",
    "Repository",
    "The name of the repository. The name is not case sensitive",
    remoteOptions=True,
)


def _repo_options(profile: dict, props: dict) -> list:
    return up.github_repo_names(profile)


def _repo_fullname(props: dict) -> str:
    value = str(props.get("repoFullname") or "").strip()
    if value.count("/") != 1 or not all(value.split("/")):
        raise ComponentError(f"repoFullname must look like owner/name, not {value!r}.")
    return value


def _get_current_user(profile: dict, props: dict):
    user = up.github_user(profile)
    ret = {
        "user": user,
        "organizations": up.github_orgs(profile)[:20],
        "teams": up.github_teams(profile)[:20],
    }
    return f"Retrieved GitHub user {user['login']}", ret


def _get_repository(profile: dict, props: dict):
    full_name = _repo_fullname(props)
    known = {name.lower(): name for name in up.github_repo_names(profile)}
    known.update({str(n).lower(): str(n) for n in profile.get("starred") or []})
    if full_name.lower() not in known:
        # What GitHub answers for a repository the token cannot see.
        raise ComponentError(f'The request failed with status "404" for {full_name}: Not Found.')
    full_name = known[full_name.lower()]
    repo = up.github_repo(full_name, admin=up.github_is_admin(profile, full_name))
    return f"Successfully retrieved repository {full_name}", repo


def _list_organizations(profile: dict, props: dict):
    orgs = up.github_orgs(profile)
    plural = "" if len(orgs) == 1 else "s"
    return f"Successfully listed {len(orgs)} organization{plural}", orgs


def _star_dynamic(profile: dict, props: dict) -> list[dict]:
    # common-flex additionalProps(): webhook mode when the account administers the repo.
    if up.github_is_admin(profile, str(props.get("repoFullname") or "")):
        return [{"name": "http", "type": "$.interface.http"}]
    return [{"name": "timer", "type": "$.interface.timer", "default": dict(DEFAULT_TIMER)}]


def star_event(profile: dict, props: dict, login: str) -> dict:
    """What github-new-star, deployed on the account of `profile`, emits when `login`
    stars the watched repository: GitHub's star webhook (webhook mode, the account
    administers it) or one stargazer (polling mode)."""
    if up.github_is_admin(profile, str(prop_value(props.get("repoFullname")) or "")):
        return up.github_star_webhook(login)
    return up.github_simple_user(login)


def _star_sample(profile: dict, props: dict) -> dict:
    return star_event(profile, props, up.github_login(profile))  # the account's own star


def _star_login(event: dict) -> str:
    sender = event.get("sender")
    if isinstance(sender, dict):
        return str(sender.get("login") or "")
    return str(event.get("login") or "")


def _star_refuse(event: dict) -> str:
    if "action" in event and event.get("action") != "created":
        return 'github-new-star emits only "star" webhooks with action "created".'
    if not _star_login(event):
        return 'A github-new-star event names its stargazer: {"sender": {"login": ...}}.'
    return ""


def _star_apply(account, props: dict, event: dict) -> None:
    """The stargazer's GitHub accounts (same project and environment) now star the repo."""
    from sandbox.pipedream.models import Account

    repo = str(prop_value(props.get("repoFullname")) or "").strip()
    login = _star_login(event).lower()
    if repo.count("/") != 1 or not login:
        return
    accounts = Account.objects.filter(
        app_slug="github",
        user__project_id=account.user.project_id,
        user__environment=account.user.environment,
    )
    for other in accounts:
        profile = dict(other.profile or {})
        if str(profile.get("login") or "").lower() != login:
            continue
        starred = list(profile.get("starred") or [])
        if repo.lower() not in {str(name).lower() for name in starred}:
            starred.append(repo)
        profile["starred"] = starred
        other.profile = profile
        other.save(update_fields=["profile", "updated_at"])


GITHUB = [
    Component(
        key="github-get-current-user",
        name="Get Current User",
        version="0.0.1",
        component_type=ACTION,
        app="github",
        app_prop="github",
        description=(
            "Gather a full snapshot of the authenticated GitHub actor, combining `/user`, "
            "`/user/orgs`, and `/user/teams`."
        ),
        source=_src(
            "components/github/actions/get-current-user/get-current-user.mjs",
            "31b152d319235d58c9b38c65553b3f2d407b578d",
        ),
        annotations=READ_ONLY,
        run=_get_current_user,
    ),
    Component(
        key="github-get-repository",
        name="Get Repository Info",
        version="0.0.21",
        component_type=ACTION,
        app="github",
        app_prop="github",
        description="Get information for a specific repository.",
        source=_src(
            "components/github/actions/get-repository/get-repository.mjs",
            "0226f1a2b28aff1299570478339ec86f7787abac",
        ),
        props=(REPO_FULLNAME,),
        run=_get_repository,
        options={"repoFullname": _repo_options},
    ),
    Component(
        key="github-list-organizations",
        name="List Organizations",
        version="0.0.4",
        component_type=ACTION,
        app="github",
        app_prop="github",
        description="List all organizations in the authenticated user's account.",
        source=_src(
            "components/github/actions/list-organizations/list-organizations.mjs",
            "2b76e187f69493cb73329aa1c7629117adf1e1aa",
        ),
        annotations=READ_ONLY,
        run=_list_organizations,
    ),
    Component(
        key="github-new-star",
        name="New Stars",
        version="1.0.7",
        component_type=TRIGGER,
        app="github",
        app_prop="github",
        description="Emit new event when a repository is starred",
        source=_src(
            "components/github/sources/new-star/new-star.mjs",
            "22760b27e6cf881065f43f829a2f3aaef185b16f",
        )
        + "; "
        + _src(
            "components/github/sources/common/common-flex.mjs",
            "032e40c293c5a4cf271b90890ee7ea0be8523138",
        ),
        props=(dict(REPO_FULLNAME, reloadProps=True), {"name": "db", "type": "$.service.db"}),
        options={"repoFullname": _repo_options},
        dynamic=_star_dynamic,
        sample=_star_sample,
        apply=_star_apply,
        refuse=_star_refuse,
    ),
]


# --- Discord -------------------------------------------------------------------------


def _channel_options(profile: dict, props: dict) -> list:
    return [
        {"label": f"#{c['name']} ({c['guild_id']})", "value": c["id"]}
        for c in up.discord_channels(profile)
    ]


def _message_options(profile: dict, props: dict) -> list:
    messages = up.discord_messages(profile, str(props.get("channel") or ""))
    return [
        {
            "label": m["content"] if len(m["content"]) <= 50 else m["content"][:45] + " [...]",
            "value": m["id"],
        }
        for m in messages
    ]


def _get_message(profile: dict, props: dict):
    channel, message_id = str(props.get("channel") or ""), str(props.get("message") or "")
    for message in up.discord_messages(profile, channel):
        if message["id"] == message_id:
            return "Message obtained successfully", message
    raise ComponentError(f"Discord answered 404 Unknown Message for {message_id} in {channel}.")


def _member_sample(profile: dict, props: dict) -> dict:
    guilds = sorted((profile.get("guilds") or {}).keys())
    return up.discord_member_event(profile, guilds[0] if guilds else catalogue.DEMO_GUILD_ID)


def _member_refuse(event: dict) -> str:
    if not event.get("userId") or not event.get("guildId"):
        return 'A discord-guild-member event has "userId" and "guildId".'
    return ""


def _member_apply(account, props: dict, event: dict) -> None:
    """The Discord accounts with that user id (same project and environment) are in the guild."""
    from sandbox.pipedream.models import Account

    accounts = Account.objects.filter(
        app_slug="discord",
        user__project_id=account.user.project_id,
        user__environment=account.user.environment,
    )
    for other in accounts:
        profile = dict(other.profile or {})
        if up.discord_user_id(profile) != str(event.get("userId")):
            continue
        guilds = dict(profile.get("guilds") or {})
        guilds.setdefault(str(event["guildId"]), {"roles": ["member"]})
        profile["guilds"] = guilds
        other.profile = profile
        other.save(update_fields=["profile", "updated_at"])


DISCORD = [
    Component(
        key="discord-get-message",
        name="Get Message",
        version="0.0.1",
        component_type=ACTION,
        app="discord",
        app_prop="discord",
        description="Retrieves a specific message in the channel",
        source=_src(
            "components/discord/actions/get-message/get-message.mjs",
            "b9060b1356723e1fddb87778f5e60e9631a8078f",
        ),
        props=(
            {"name": "channel", "type": "$.discord.channel", "appProp": "discord"},
            {"name": "message", "type": "string", "label": "Message ID", "remoteOptions": True},
        ),
        run=_get_message,
        options={"channel": _channel_options, "message": _message_options},
    ),
    Component(
        key="discord-guild-member",
        name="New Guild Member (Instant)",
        version="0.0.3",
        component_type=TRIGGER,
        app="discord",
        app_prop="discord",
        description="Emit new event for each new member added to a guild",
        source=_src(
            "components/discord/sources/new-guild-member/new-guild-member.mjs",
            "09ac073cc4ea83360749cc64fa31653a43ff450f",
        ),
        props=(
            {
                "name": "discordApphook",
                "type": "$.interface.apphook",
                "appProp": "discord",
                "eventNames": ["GUILD_MEMBER_ADD"],
            },
        ),
        sample=_member_sample,
        refuse=_member_refuse,
        apply=_member_apply,
    ),
]


# --- Slack ---------------------------------------------------------------------------


def _slack_current_user(profile: dict, props: dict):
    user, team = up.slack_user(profile), up.slack_team(profile)
    profile_obj = user["profile"]
    ret = {
        "authContext": up.slack_auth_test(profile),
        "user": {
            "id": user["id"],
            "teamId": user["team_id"],
            "name": profile_obj["real_name_normalized"] or user["real_name"],
            "displayName": profile_obj["display_name_normalized"] or user["name"],
            "email": profile_obj["email"],
            "locale": user["locale"],
            "timezone": user["tz"],
            "timezoneLabel": user["tz_label"],
            "timezoneOffset": user["tz_offset"],
            "isAdmin": user["is_admin"],
            "isOwner": user["is_owner"],
            "isPrimaryOwner": user["is_primary_owner"],
            "isRestricted": user["is_restricted"],
            "isUltraRestricted": user["is_ultra_restricted"],
            "isBot": user["is_bot"],
            "isAppUser": user["is_app_user"],
            "updated": user["updated"],
            "color": user["color"],
            "profile": profile_obj,
        },
        "team": {
            "id": team["id"],
            "name": team["name"],
            "domain": team["domain"],
            "emailDomain": team["email_domain"],
            "icon": team["icon"],
            "enterpriseId": team["enterprise_id"],
            "enterpriseName": team["enterprise_name"],
        },
    }
    return f"Retrieved Slack user {ret['user']['name']}", ret


def _slack_join_sample(profile: dict, props: dict) -> dict:
    return up.slack_team_join(profile)


def _slack_join_refuse(event: dict) -> str:
    if not isinstance(event.get("user"), dict):
        return 'A slack-new-user-added event is a team_join: {"type": "team_join", "user": {...}}.'
    return ""


SLACK = [
    Component(
        key="slack-get-current-user",
        name="Get Current User",
        version="0.0.1",
        component_type=ACTION,
        app="slack",
        app_prop="slack",
        description=(
            "Retrieve comprehensive context about the authenticated Slack member, combining "
            "`auth.test`, `users.info`, `users.profile.get`, and `team.info` payloads."
        ),
        source=_src(
            "components/slack/actions/get-current-user/get-current-user.mjs",
            "26d407046ff3cc2ccbd44fa91838f8d92210b6f5",
        ),
        annotations=READ_ONLY,
        run=_slack_current_user,
    ),
    Component(
        key="slack-new-user-added",
        name="New User Added (Instant)",
        version="0.0.5",
        component_type=TRIGGER,
        app="slack",
        app_prop="slack",
        description="Emit new event when a new member joins a workspace.",
        source=_src(
            "components/slack/sources/new-user-added/new-user-added.mjs",
            "231e20055561cdca4e22f09f8d63174a2a607fef",
        )
        + "; "
        + _src(
            "components/slack/sources/common/base.mjs", "00a42bfedf307d33b7d4e2a1fcbc422f2cd2a4a5"
        ),
        props=(
            {"name": "nameCache", "type": "$.service.db"},
            {
                "name": "slackApphook",
                "type": "$.interface.apphook",
                "appProp": "slack",
                "eventNames": ["team_join"],
            },
        ),
        sample=_slack_join_sample,
        refuse=_slack_join_refuse,
    ),
]


# --- Google Sheets --------------------------------------------------------------------


def _google_current_user(profile: dict, props: dict):
    about = up.google_about(profile)
    user = about["user"]
    name = user["displayName"] or user["emailAddress"] or user["permissionId"]
    return f"Retrieved Google Sheets user {name}", {"about": about}


def _drive_options(profile: dict, props: dict) -> list:
    return [{"label": d["name"], "value": d["id"]} for d in profile.get("drives") or []]


def _sheet_options(profile: dict, props: dict) -> list:
    return [{"label": s["name"], "value": s["id"]} for s in up.google_spreadsheets(profile)]


def _worksheet_options(profile: dict, props: dict) -> list:
    spreadsheet = up.google_spreadsheet(profile, str(props.get("sheetID") or ""))
    if spreadsheet is None:
        raise ComponentError("Select a spreadsheet (sheetID) before its worksheets.")
    sheets = [up.google_sheet(w, i) for i, w in enumerate(spreadsheet.get("worksheets") or [])]
    return [
        {"label": s["properties"]["title"], "value": s["properties"]["sheetId"]}
        for s in sheets
        if s["properties"]["sheetType"] == "GRID"
    ]


def _new_row_sample(profile: dict, props: dict) -> dict:
    spreadsheet = up.google_spreadsheet(profile, str(prop_value(props.get("sheetID")) or ""))
    if spreadsheet is None or not spreadsheet.get("worksheets"):
        spreadsheet = {"worksheets": [{"sheetId": 0, "title": "Sheet1", "rows": [["sample"]]}]}
    rows = spreadsheet["worksheets"][0].get("rows") or [[]]
    return up.google_new_row_event(spreadsheet, 0, len(rows))


def _new_row_refuse(event: dict) -> str:
    if not isinstance(event.get("newRow"), list) or "rowNumber" not in event:
        return 'A google_sheets-new-row-added-polling event has "newRow" and "rowNumber".'
    return ""


GOOGLE_SHEETS = [
    Component(
        key="google_sheets-get-current-user",
        name="Get Current User",
        version="0.0.1",
        component_type=ACTION,
        app="google_sheets",
        app_prop="googleSheets",
        description=(
            "Retrieve Google Sheets account metadata for the authenticated user by calling "
            "Drive's `about.get`."
        ),
        source=_src(
            "components/google_sheets/actions/get-current-user/get-current-user.mjs",
            "31b152d319235d58c9b38c65553b3f2d407b578d",
        ),
        annotations=READ_ONLY,
        run=_google_current_user,
    ),
    Component(
        key="google_sheets-new-row-added-polling",
        name="New Row Added",
        version="0.0.8",
        component_type=TRIGGER,
        app="google_sheets",
        app_prop="googleSheets",
        description=(
            "Emit new event each time a row or rows are added to the bottom of a spreadsheet."
        ),
        source=_src(
            "components/google_sheets/sources/new-row-added-polling/new-row-added-polling.mjs",
            "0f9bbcf9c84107d5416125a924f4bcebefbf1b92",
        )
        + "; "
        + _src(
            "components/google_sheets/sources/common/new-row-added.mjs",
            "0be9207c6138b7a8e3f801b261a4878847232772",
        ),
        props=(
            {"name": "db", "type": "$.service.db"},
            {"name": "timer", "type": "$.interface.timer", "static": dict(DEFAULT_TIMER)},
            _string(
                "watchedDrive",
                "Drive",
                "Defaults to My Drive. To select a Shared Drive instead, select it from this list.",
                remoteOptions=True,
                optional=True,
            ),
            _string("sheetID", "Spreadsheet", "The Google spreadsheet", remoteOptions=True),
            {
                "name": "worksheetIDs",
                "type": "string[]",
                "label": "Worksheet(s)",
                "description": "Worksheet(s)",
                "remoteOptions": True,
            },
        ),
        options={
            "watchedDrive": _drive_options,
            "sheetID": _sheet_options,
            "worksheetIDs": _worksheet_options,
        },
        sample=_new_row_sample,
        refuse=_new_row_refuse,
    ),
]


COMPONENTS: dict[str, Component] = {c.key: c for c in GITHUB + DISCORD + SLACK + GOOGLE_SHEETS}
ACTIONS = {key: c for key, c in COMPONENTS.items() if c.component_type == ACTION}
TRIGGERS = {key: c for key, c in COMPONENTS.items() if c.component_type == TRIGGER}


def find(key: str, component_type: str | None = None) -> Component | None:
    component = COMPONENTS.get(key)
    if component is None or (component_type and component.component_type != component_type):
        return None
    return component
