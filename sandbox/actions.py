"""The sandbox's demo actions: what POST /actions/run can run, reading an account's profile.

Each action belongs to one app, names the props it needs besides the app prop, and
turns the account's `profile` (see catalogue.default_profile) into a return value, so
claim criteria built on these actions pass or fail with the profile.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.catalogue import DEMO_GUILD_ID


class ActionError(Exception):
    """The action failed the way an upstream API would (bad input, missing data)."""


@dataclass(frozen=True)
class Action:
    key: str
    app: str
    name: str
    run: Callable[[dict, dict], tuple[str, Any]]  # (profile, props) -> (summary, ret)
    props: tuple[str, ...] = field(default_factory=tuple)


def _github_current_user(profile: dict, props: dict):
    login = profile.get("login", "")
    ret = {
        "login": login,
        "public_repos": int(profile.get("public_repos", 0)),
        "followers": int(profile.get("followers", 0)),
        "created_at": profile.get("created_at"),
    }
    return f"Retrieved the GitHub user {login}", ret


def _github_check_star(profile: dict, props: dict):
    repo = str(props["repo"]).strip().lower()
    if repo.count("/") != 1:
        raise ActionError(f"repo must look like owner/name, not {props['repo']!r}")
    starred = repo in {name.lower() for name in profile.get("starred", [])}
    verb = "has starred" if starred else "has not starred"
    return f"{profile.get('login', 'The user')} {verb} {repo}", {"repo": repo, "starred": starred}


def _discord_check_membership(profile: dict, props: dict):
    guild_id = str(props["guild_id"]).strip()
    guild = (profile.get("guilds") or {}).get(guild_id)
    ret = {
        "guild_id": guild_id,
        "member": guild is not None,
        "roles": (guild or {}).get("roles", []),
    }
    verb = "is a member" if guild is not None else "is not a member"
    return f"{profile.get('username', 'The user')} {verb} of guild {guild_id}", ret


def _slack_get_team(profile: dict, props: dict):
    team = profile.get("team") or {}
    return f"Retrieved the Slack team {team.get('name', '')}", {
        "id": team.get("id"),
        "name": team.get("name"),
        "domain": team.get("domain"),
    }


def _gitlab_current_user(profile: dict, props: dict):
    ret = {
        "username": profile.get("username", ""),
        "public_projects": int(profile.get("public_projects", 0)),
    }
    return f"Retrieved the GitLab user {ret['username']}", ret


ACTIONS = {
    action.key: action
    for action in [
        Action("github-get-current-user", "github", "Get Current User", _github_current_user),
        Action("github-check-star", "github", "Check Star", _github_check_star, ("repo",)),
        Action(
            "discord-check-membership",
            "discord",
            "Check Guild Membership",
            _discord_check_membership,
            ("guild_id",),
        ),
        Action("slack-get-team", "slack", "Get Team", _slack_get_team),
        Action("gitlab-get-current-user", "gitlab", "Get Current User", _gitlab_current_user),
    ]
}

__all__ = ["ACTIONS", "DEMO_GUILD_ID", "Action", "ActionError"]
