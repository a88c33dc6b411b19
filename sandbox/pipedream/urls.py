"""The emulated Pipedream's URLs, under /sandbox/pipedream/ (namespace sandbox:pipedream).

This is what PIPEDREAM_API_URL and PIPEDREAM_CONNECT_URL point at in sandbox mode: the
REST API under v1/, the hosted page under _static/, demo workflows under workflows/
(deployed triggers and the proxy are REST routes too).
"""

from django.urls import path, re_path

from sandbox.pipedream.views import (
    accounts,
    actions,
    apps,
    base,
    connect,
    hosted,
    proxy,
    triggers,
    workflows,
)
from sandbox.pipedream.views import components as comp

app_name = "pipedream"

# Paths as on api.pipedream.com (no trailing slashes). Routes a Connect token may call
# exist twice: without a project id (the project comes from the token) and with one;
# the token forms come first. Whatever else is asked for gets a JSON 404.
_proxy = base.by_method(
    GET=proxy.proxy_request,
    POST=proxy.proxy_request,
    PUT=proxy.proxy_request,
    PATCH=proxy.proxy_request,
    DELETE=proxy.proxy_request,
)
_both_forms = [
    # (path after v1/connect/ and the project id, view, name)
    (
        "accounts",
        base.by_method(GET=accounts.accounts_list, POST=accounts.accounts_create),
        "accounts",
    ),
    (
        "accounts/<str:account_id>",
        base.by_method(GET=accounts.account_get, DELETE=accounts.account_delete),
        "account",
    ),
    ("actions/run", base.by_method(POST=actions.actions_run), "actions-run"),
    ("triggers/deploy", base.by_method(POST=triggers.triggers_deploy), "triggers-deploy"),
    ("deployed-triggers", base.by_method(GET=triggers.deployed_triggers_list), "deployed-triggers"),
    (
        "deployed-triggers/<str:trigger_id>",
        base.by_method(
            GET=triggers.deployed_trigger_get,
            PUT=triggers.deployed_trigger_update,
            DELETE=triggers.deployed_trigger_delete,
        ),
        "deployed-trigger",
    ),
    (
        "deployed-triggers/<str:trigger_id>/events",
        base.by_method(GET=triggers.deployed_trigger_events),
        "deployed-trigger-events",
    ),
    (
        "deployed-triggers/<str:trigger_id>/webhooks",
        base.by_method(
            GET=triggers.deployed_trigger_webhooks, PUT=triggers.deployed_trigger_webhooks_update
        ),
        "deployed-trigger-webhooks",
    ),
    ("proxy/<str:url_64>", _proxy, "proxy"),
]
_project_only = [
    ("tokens", base.by_method(POST=connect.tokens_create), "tokens"),
    # The component API (sandbox/pipedream/views/components.py): configure and props before the
    # {component_id} routes; actions/run and triggers/deploy (above) come first too.
    *[
        route
        for kind in ("components", "actions", "triggers")
        for route in [
            (kind, base.by_method(GET=getattr(comp, f"{kind}_list")), f"{kind}-list"),
            (
                f"{kind}/configure",
                base.by_method(POST=getattr(comp, f"{kind}_configure")),
                f"{kind}-configure",
            ),
            (f"{kind}/props", base.by_method(POST=getattr(comp, f"{kind}_props")), f"{kind}-props"),
            (
                f"{kind}/<str:component_id>",
                base.by_method(GET=getattr(comp, f"{kind}_get")),
                f"{kind}-get",
            ),
        ]
    ],
    (
        "apps/<str:app_id>/accounts",
        base.by_method(DELETE=accounts.accounts_delete_by_app),
        "app-accounts",
    ),
    ("users", base.by_method(GET=accounts.users_list), "users"),
    ("users/<str:external_user_id>", base.by_method(DELETE=accounts.user_delete), "user"),
    (
        "users/<str:external_user_id>/accounts",
        base.by_method(GET=accounts.user_accounts),
        "user-accounts",
    ),
    (
        "deployed-triggers/<str:trigger_id>/webhooks/<str:webhook_id>",
        base.by_method(GET=triggers.deployed_trigger_webhook_get),
        "deployed-trigger-webhook",
    ),
    (
        "deployed-triggers/<str:trigger_id>/webhooks/<str:webhook_id>/regenerate_signing_key",
        base.by_method(POST=triggers.deployed_trigger_webhook_regenerate),
        "deployed-trigger-webhook-regenerate",
    ),
]

urlpatterns = [
    path("v1/oauth/token", connect.oauth_token, name="oauth-token"),
    path("v1/apps", base.by_method(GET=apps.apps_list), name="apps-legacy"),
    path("v1/apps/<str:app_id>", base.by_method(GET=apps.apps_get), name="app-legacy"),
    path("v1/connect/apps", base.by_method(GET=apps.apps_list), name="apps"),
    path("v1/connect/apps/<str:app_id>", base.by_method(GET=apps.apps_get), name="app"),
    path("v1/connect/tokens/<str:ctok>/validate", connect.tokens_validate, name="token-validate"),
    *[path(f"v1/connect/{rest}", view, name=f"{name}-ctok") for rest, view, name in _both_forms],
    *[
        path(f"v1/connect/<str:project_id>/{rest}", view, name=name)
        for rest, view, name in _both_forms + _project_only
    ],
    re_path(
        r"^workflows/(?P<endpoint_id>e[no][a-z0-9-]+)/?$",
        workflows.workflow_invoke,
        name="workflow",
    ),
    path("_static/connect.html", hosted.connect_page, name="connect"),
    re_path(
        r"^_static/connect-(?P<result>success|error)\.html$",
        hosted.connect_result,
        name="connect-result",
    ),
    re_path(r"^.*$", base.not_found),
]
