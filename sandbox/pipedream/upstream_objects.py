"""What the emulated upstreams (GitHub, Discord, Slack, Google) report, built from a profile.

An account's `profile` (catalogue.default_profile, editable on the control page) is the
sandbox's whole upstream. The components (sandbox/pipedream/components.py) turn it into objects
shaped as the upstream's API returns them, because a real component's `run()` returns
those objects as they are:

- GitHub (REST API v3, docs.github.com/en/rest): the authenticated user (`GET /user`,
  private-user), organizations (`GET /user/orgs`, organization-simple), teams
  (`GET /user/teams`, team-full), repositories (`GET /repos/{owner}/{repo}`,
  full-repository) and simple-user objects (stargazers, webhook `sender`);
- Discord (discord.com/developers/docs): message objects;
- Slack (api.slack.com/methods): auth.test, users.info's user, team.info's team;
- Google Drive `about.get` and Sheets spreadsheet/sheet objects.

Only the fields are emulated, with values derived from the profile; ids are stable.
"""

import datetime

from sandbox.pipedream import catalogue

GITHUB_API = "https://api.github.com"


def _now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _node_id(kind: str, number: int) -> str:
    return catalogue._stable_id(f"{kind}_kgDO", str(number), 8)


# --- GitHub --------------------------------------------------------------------------


def github_user_id(login: str) -> int:
    # The same number the proxy's GET /user answers (sandbox/pipedream/proxy.py).
    return catalogue._number(login or "sandbox-user", 10**6, 10**8)


def github_simple_user(login: str, user_id: int | None = None) -> dict:
    """GitHub's simple-user object (stargazers, webhook `sender`, repository `owner`)."""
    user_id = github_user_id(login) if user_id is None else user_id
    url = f"{GITHUB_API}/users/{login}"
    return {
        "login": login,
        "id": user_id,
        "node_id": _node_id("U", user_id),
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "gravatar_id": "",
        "url": url,
        "html_url": f"https://github.com/{login}",
        "followers_url": f"{url}/followers",
        "following_url": f"{url}/following{{/other_user}}",
        "gists_url": f"{url}/gists{{/gist_id}}",
        "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{url}/subscriptions",
        "organizations_url": f"{url}/orgs",
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events{{/privacy}}",
        "received_events_url": f"{url}/received_events",
        "type": "User",
        "user_view_type": "public",
        "site_admin": False,
    }


def github_login(profile: dict) -> str:
    return str(profile.get("login") or "")


def github_user(profile: dict) -> dict:
    """GET /user for the account (GitHub's private-user object)."""
    login = github_login(profile)
    user_id = int(profile.get("id") or github_user_id(login))
    created = profile.get("created_at") or "2026-01-05T12:00:00Z"
    return {
        **github_simple_user(login, user_id),
        "user_view_type": "private",  # GET /user answers the private-user form
        "name": profile.get("name") or login,
        "company": profile.get("company"),
        "blog": "",
        "location": None,
        "email": profile.get("email"),
        "hireable": None,
        "bio": None,
        "twitter_username": None,
        "notification_email": profile.get("email"),
        "public_repos": int(profile.get("public_repos", 0)),
        "public_gists": int(profile.get("public_gists", 0)),
        "followers": int(profile.get("followers", 0)),
        "following": int(profile.get("following", 0)),
        "created_at": created,
        "updated_at": profile.get("updated_at") or created,
        "private_gists": 0,
        "total_private_repos": 0,
        "owned_private_repos": 0,
        "disk_usage": 0,
        "collaborators": 0,
        "two_factor_authentication": bool(profile.get("two_factor_authentication", True)),
        "plan": {"name": "free", "space": 976562499, "private_repos": 10000, "collaborators": 0},
    }


def github_org(login: str) -> dict:
    """GitHub's organization-simple object."""
    org_id = catalogue._number("org:" + login, 10**6, 10**8)
    url = f"{GITHUB_API}/orgs/{login}"
    return {
        "login": login,
        "id": org_id,
        "node_id": _node_id("O", org_id),
        "url": url,
        "repos_url": f"{url}/repos",
        "events_url": f"{url}/events",
        "hooks_url": f"{url}/hooks",
        "issues_url": f"{url}/issues",
        "members_url": f"{url}/members{{/member}}",
        "public_members_url": f"{url}/public_members{{/member}}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{org_id}?v=4",
        "description": None,
    }


def github_orgs(profile: dict) -> list[dict]:
    return [github_org(str(login)) for login in profile.get("orgs") or []]


def github_team(org: str, name: str) -> dict:
    """GitHub's team-full object (its `organization` as organization-simple plus dates)."""
    slug = "-".join(name.lower().split())
    team_id = catalogue._number(f"team:{org}/{slug}", 10**6, 10**8)
    url = (
        f"{GITHUB_API}/organizations/{catalogue._number('org:' + org, 10**6, 10**8)}/team/{team_id}"
    )
    return {
        "id": team_id,
        "node_id": _node_id("T", team_id),
        "url": url,
        "html_url": f"https://github.com/orgs/{org}/teams/{slug}",
        "name": name,
        "slug": slug,
        "description": None,
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "permission": "pull",
        "type": "organization",
        "members_url": f"{url}/members{{/member}}",
        "repositories_url": f"{url}/repos",
        "parent": None,
        "members_count": 1,
        "repos_count": 0,
        "created_at": "2020-01-01T00:00:00Z",
        "updated_at": "2020-01-01T00:00:00Z",
        "organization": {
            **github_org(org),
            "name": org,
            "html_url": f"https://github.com/{org}",
            "created_at": "2015-01-01T00:00:00Z",
            "updated_at": "2020-01-01T00:00:00Z",
            "type": "Organization",
            "has_organization_projects": True,
            "has_repository_projects": True,
            "public_repos": 1,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "archived_at": None,
        },
    }


def github_teams(profile: dict) -> list[dict]:
    teams = []
    for team in profile.get("teams") or []:
        if isinstance(team, dict) and team.get("org") and team.get("name"):
            teams.append(github_team(str(team["org"]), str(team["name"])))
    return teams


def github_repo_names(profile: dict) -> list[str]:
    """GET /user/repos: the full names of the account's repositories (owned first)."""
    return [str(name) for name in profile.get("repos") or []]


def github_is_admin(profile: dict, full_name: str) -> bool:
    """Whether the account administers the repository: it owns it, or lists it in `admin_of`."""
    owner = full_name.split("/", 1)[0].lower()
    admin_of = {str(name).lower() for name in profile.get("admin_of") or []}
    return owner == github_login(profile).lower() or full_name.lower() in admin_of


# The hypermedia URLs of a repository object: GitHub's templates, relative to its API URL.
_REPO_URL_TEMPLATES = {
    "archive_url": "/{archive_format}{/ref}",
    "assignees_url": "/assignees{/user}",
    "blobs_url": "/git/blobs{/sha}",
    "branches_url": "/branches{/branch}",
    "collaborators_url": "/collaborators{/collaborator}",
    "comments_url": "/comments{/number}",
    "commits_url": "/commits{/sha}",
    "compare_url": "/compare/{base}...{head}",
    "contents_url": "/contents/{+path}",
    "contributors_url": "/contributors",
    "deployments_url": "/deployments",
    "downloads_url": "/downloads",
    "events_url": "/events",
    "forks_url": "/forks",
    "git_commits_url": "/git/commits{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "hooks_url": "/hooks",
    "issue_comment_url": "/issues/comments{/number}",
    "issue_events_url": "/issues/events{/number}",
    "issues_url": "/issues{/number}",
    "keys_url": "/keys{/key_id}",
    "labels_url": "/labels{/name}",
    "languages_url": "/languages",
    "merges_url": "/merges",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "pulls_url": "/pulls{/number}",
    "releases_url": "/releases{/id}",
    "stargazers_url": "/stargazers",
    "statuses_url": "/statuses/{sha}",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "tags_url": "/tags",
    "teams_url": "/teams",
    "trees_url": "/git/trees{/sha}",
}


def _repo_urls(full_name: str) -> dict:
    url = f"{GITHUB_API}/repos/{full_name}"
    return {
        **{name: url + tail for name, tail in _REPO_URL_TEMPLATES.items()},
        "git_url": f"git://github.com/{full_name}.git",
        "ssh_url": f"git@github.com:{full_name}.git",
        "clone_url": f"https://github.com/{full_name}.git",
        "svn_url": f"https://github.com/{full_name}",
        "mirror_url": None,
    }


def github_repo(full_name: str, *, admin: bool) -> dict:
    """GET /repos/{owner}/{repo} (GitHub's full-repository object, main fields)."""
    owner, name = full_name.split("/", 1)
    repo_id = catalogue._number("repo:" + full_name.lower(), 10**7, 10**9)
    url = f"{GITHUB_API}/repos/{full_name}"
    stars = catalogue._number("stars:" + full_name.lower(), 0, 500)
    return {
        "id": repo_id,
        "node_id": _node_id("R", repo_id),
        "name": name,
        "full_name": full_name,
        "private": False,
        "owner": github_simple_user(owner),
        "html_url": f"https://github.com/{full_name}",
        "description": None,
        "fork": False,
        "url": url,
        **_repo_urls(full_name),
        "created_at": "2021-06-01T10:00:00Z",
        "updated_at": "2026-01-01T10:00:00Z",
        "pushed_at": "2026-01-01T10:00:00Z",
        "homepage": None,
        "size": 100,
        "stargazers_count": stars,
        "watchers_count": stars,
        "language": None,
        "has_issues": True,
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": True,
        "has_pages": False,
        "has_discussions": False,
        "forks_count": 0,
        "archived": False,
        "disabled": False,
        "open_issues_count": 0,
        "license": None,
        "allow_forking": True,
        "is_template": False,
        "topics": [],
        "visibility": "public",
        "forks": 0,
        "open_issues": 0,
        "watchers": stars,
        "default_branch": "main",
        "permissions": {
            "admin": admin,
            "maintain": admin,
            "push": admin,
            "triage": admin,
            "pull": True,
        },
        "network_count": 0,
        "subscribers_count": 1,
    }


def github_star_webhook(login: str) -> dict:
    """GitHub's `star` webhook body (action "created") without `repository`, as the
    github-new-star source emits it."""
    return {"action": "created", "starred_at": _now_iso(), "sender": github_simple_user(login)}


# --- Discord -------------------------------------------------------------------------


def discord_user_id(profile: dict) -> str:
    username = str(profile.get("username") or "")
    return str(profile.get("id") or catalogue._stable_id("", username or "sandbox-user", 10))


def discord_channels(profile: dict) -> list[dict]:
    """One #general text channel in each of the account's guilds."""
    channels = []
    for guild_id in sorted((profile.get("guilds") or {}).keys()):
        channel_id = str(catalogue._number("channel:" + guild_id, 10**17, 10**18))
        channels.append({"id": channel_id, "guild_id": guild_id, "name": "general", "type": 0})
    return channels


def discord_messages(profile: dict, channel_id: str) -> list[dict]:
    """The messages of a channel: one welcome message per channel of the account."""
    for channel in discord_channels(profile):
        if channel["id"] == channel_id:
            message_id = str(catalogue._number("message:" + channel_id, 10**17, 10**18))
            return [
                {
                    "id": message_id,
                    "type": 0,
                    "channel_id": channel_id,
                    "author": {
                        "id": "1100000000000000099",
                        "username": "sandbox-bot",
                        "discriminator": "0",
                        "global_name": "Sandbox Bot",
                        "avatar": None,
                    },
                    "content": "Welcome to the sandbox guild!",
                    "timestamp": "2026-01-01T10:00:00.000000+00:00",
                    "edited_timestamp": None,
                    "tts": False,
                    "mention_everyone": False,
                    "mentions": [],
                    "mention_roles": [],
                    "attachments": [],
                    "embeds": [],
                    "pinned": False,
                    "flags": 0,
                    "components": [],
                }
            ]
    return []


def discord_member_event(profile: dict, guild_id: str) -> dict:
    """What the discord-guild-member source receives from its apphook (GUILD_MEMBER_ADD):
    the source reads userId, guildId and displayName; the rest is the sandbox's."""
    username = str(profile.get("username") or "")
    return {
        "guildId": guild_id,
        "userId": discord_user_id(profile),
        "displayName": username,
        "nickname": None,
        "joinedTimestamp": int(datetime.datetime.now(datetime.UTC).timestamp() * 1000),
        "roles": [guild_id],
    }


# --- Slack ---------------------------------------------------------------------------


def slack_ids(profile: dict) -> tuple[str, dict]:
    handle = str(profile.get("user") or "")
    user_id = str(profile.get("user_id") or catalogue._stable_id("U", handle or "user", 9).upper())
    return user_id, dict(profile.get("team") or {})


def slack_user(profile: dict) -> dict:
    """users.info's `user` (main fields)."""
    user_id, team = slack_ids(profile)
    handle = str(profile.get("user") or "")
    admin = bool(profile.get("is_admin", False))
    return {
        "id": user_id,
        "team_id": team.get("id"),
        "name": handle,
        "deleted": False,
        "color": "9f69e7",
        "real_name": handle,
        "tz": "Europe/Paris",
        "tz_label": "Central European Time",
        "tz_offset": 3600,
        "profile": {
            "real_name": handle,
            "real_name_normalized": handle,
            "display_name": handle,
            "display_name_normalized": handle,
            "email": f"{handle}@example.com",
            "status_text": "",
            "status_emoji": "",
            "team": team.get("id"),
        },
        "is_admin": admin,
        "is_owner": admin,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": False,
        "is_app_user": False,
        "updated": 1767261600,
        "locale": "en-US",
    }


def slack_auth_test(profile: dict) -> dict:
    user_id, team = slack_ids(profile)
    return {
        "ok": True,
        "url": f"https://{team.get('domain') or 'sandbox'}.slack.com/",
        "team": team.get("name"),
        "user": str(profile.get("user") or ""),
        "team_id": team.get("id"),
        "user_id": user_id,
        "is_enterprise_install": False,
    }


def slack_team(profile: dict) -> dict:
    """team.info's `team` (main fields)."""
    _, team = slack_ids(profile)
    return {
        "id": team.get("id"),
        "name": team.get("name"),
        "domain": team.get("domain"),
        "email_domain": "example.com",
        "icon": {"image_default": True},
        "enterprise_id": None,
        "enterprise_name": None,
    }


def slack_team_join(profile: dict) -> dict:
    """Slack's `team_join` event, as the slack-new-user-added source emits it."""
    user = slack_user(profile)
    return {"type": "team_join", "user": user, "event_ts": f"{int(_ts())}.000100"}


def _ts() -> float:
    return datetime.datetime.now(datetime.UTC).timestamp()


# --- Google Drive / Sheets ------------------------------------------------------------


def google_about(profile: dict) -> dict:
    """Drive about.get with fields=user,storageQuota (int64 values are strings)."""
    email = str(profile.get("email") or "")
    return {
        "user": {
            "kind": "drive#user",
            "displayName": profile.get("display_name") or email.split("@")[0],
            "photoLink": "https://lh3.googleusercontent.com/a/default-user=s64",
            "me": True,
            "permissionId": str(catalogue._number("perm:" + email, 10**19, 10**20 - 1)),
            "emailAddress": email,
        },
        "storageQuota": {
            "limit": "16106127360",
            "usage": "1048576",
            "usageInDrive": "524288",
            "usageInDriveTrash": "0",
        },
    }


def google_spreadsheets(profile: dict) -> list[dict]:
    return [s for s in profile.get("spreadsheets") or [] if isinstance(s, dict) and s.get("id")]


def google_spreadsheet(profile: dict, spreadsheet_id: str) -> dict | None:
    return next((s for s in google_spreadsheets(profile) if s["id"] == spreadsheet_id), None)


def google_sheet(worksheet: dict, index: int) -> dict:
    """A Sheets `Sheet` object (its properties)."""
    rows = worksheet.get("rows") or []
    return {
        "properties": {
            "sheetId": int(worksheet.get("sheetId", index)),
            "title": str(worksheet.get("title") or f"Sheet{index + 1}"),
            "index": index,
            "sheetType": "GRID",
            "gridProperties": {"rowCount": max(1000, len(rows)), "columnCount": 26},
        }
    }


def google_new_row_event(spreadsheet: dict, worksheet_index: int, row_number: int) -> dict:
    """What google_sheets-new-row-added-polling emits for one new row."""
    worksheet = (spreadsheet.get("worksheets") or [])[worksheet_index]
    sheet = google_sheet(worksheet, worksheet_index)
    title = sheet["properties"]["title"]
    rows = worksheet.get("rows") or []
    row = rows[row_number - 1] if 0 < row_number <= len(rows) else []
    return {
        "newRow": [str(cell) for cell in row],
        # The source reads from the first new row to the end of the grid.
        "range": f"{title}!{row_number}:{sheet['properties']['gridProperties']['rowCount']}",
        "worksheet": sheet,
        "rowNumber": row_number,
    }
