"""The admin home wired into the admin site: /admin/ shows the programme, not a model list.

`install(admin.site)` (OperationsConfig.ready) wraps the site's index view so that its
template (templates/admin/index.html) receives the figures (operations/home.py) and the
admin's models grouped by what an operator does with them. The site's other views, its
sidebar and its per-app pages stay as Django makes them; users/admin_access.py wraps
the same site's login and admin_view, which this leaves alone (the index is still
served through admin_view, so the staff and MFA checks apply to it first).
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from operations.home import home_build

# The home's groups, in order: (title, what it is for, [app_label or app_label.Model]).
# A model is in the first group naming it or its app; a model no group names (an app
# added later) gets a group of its app's own name, after these.
GROUPS: list[tuple[str, str, list[str]]] = [
    (
        "Programme",
        "What members are offered: claims, their jobs, the apps they connect, the site's brand.",
        ["claims.Claim", "claims.ClaimJob", "connections.App", "branding"],
    ),
    (
        "Claims",
        "The ledger of completions, its events, the delivery pause and triggers.",
        ["claims"],
    ),
    (
        "Members",
        "Members, their email addresses and authenticator apps.",
        ["users", "account", "mfa"],
    ),
    (
        "Connections",
        "Members' and the site's accounts, Connect sessions and Pipedream's webhooks.",
        ["connections"],
    ),
    (
        "Operations",
        "Alerts and the task worker's results.",
        ["operations", "django_tasks_database"],
    ),
    ("Staff", "Staff roles (groups) and what each may do.", ["auth"]),
    ("Sandbox", "The offline Pipedream and BitBadges.", ["sandbox"]),
]


def app_groups(app_list: list[dict]) -> list[dict]:
    """The admin's apps (as AdminSite.get_app_list gives them, already filtered by the
    staff member's permissions) regrouped as GROUPS says; empty groups left out."""
    by_model: dict[str, int] = {}
    by_app: dict[str, int] = {}
    for index, (_, _, names) in enumerate(GROUPS):
        for name in names:
            target = by_model if "." in name else by_app
            target.setdefault(name, index)
    placed: list[list[tuple[int, dict]]] = [[] for _ in GROUPS]
    others: dict[str, dict] = {}
    for app in app_list:
        for model in app["models"]:
            key = f"{app['app_label']}.{model['object_name']}"
            found = by_model.get(key, by_app.get(app["app_label"]))
            if found is None:
                other = others.setdefault(
                    app["app_label"], {"name": app["name"], "description": "", "models": []}
                )
                other["models"].append(model)
                continue
            # Models a group names one by one come in that order, the rest after.
            names = GROUPS[found][2]
            rank = names.index(key) if key in names else len(names)
            placed[found].append((rank, model))
    groups = [
        {
            "name": title,
            "description": description,
            "models": [model for _, model in sorted(placed[index], key=lambda item: item[0])],
        }
        for index, (title, description, _) in enumerate(GROUPS)
        if placed[index]
    ]
    return groups + list(others.values())


def install(site: admin.AdminSite) -> None:
    """Give `site`'s index the home's context (once, however often it is called)."""
    if getattr(site.index, "admin_home", False):
        return
    original: Callable[..., HttpResponse] = site.index

    @wraps(original)
    def index(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = original(request, {"home": home_build(request.user), **(extra_context or {})})
        # The index answers a TemplateResponse, not rendered yet: group the app list it
        # made rather than asking the site for another (each costs queries).
        context = getattr(response, "context_data", None)
        if context is not None:
            context["app_groups"] = app_groups(context.get("app_list", []))
        return response

    index.admin_home = True  # type: ignore[attr-defined]
    site.index = index  # type: ignore[method-assign,assignment]
