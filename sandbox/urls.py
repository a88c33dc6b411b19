"""The sandbox's URLs: the control page at /sandbox/, the emulated Pipedream under pipedream/.

pipedream/ is what PIPEDREAM_API_URL and PIPEDREAM_CONNECT_URL point at in sandbox
mode: the REST API under v1/, the hosted page under _static/, demo workflows under
workflows/ (deployed triggers and the proxy are REST routes too). bitbadges/ is what BITBADGES_API_URL points at: the emulated BitBadges API
under api/v0/ (and api/v1/ for the batch claim fetch).
"""

from django.urls import include, path, re_path

from sandbox import bitbadges_api as bb
from sandbox import components_api as comp
from sandbox import hosted, views
from sandbox import pipedream_api as api

app_name = "sandbox"

# Paths as on api.pipedream.com (no trailing slashes). Routes a Connect token may call
# exist twice: without a project id (the project comes from the token) and with one;
# the token forms come first. Whatever else is asked for gets a JSON 404.
_proxy = api.by_method(
    GET=api.proxy_request,
    POST=api.proxy_request,
    PUT=api.proxy_request,
    PATCH=api.proxy_request,
    DELETE=api.proxy_request,
)
_both_forms = [
    # (path after v1/connect/ and the project id, view, name)
    ("accounts", api.by_method(GET=api.accounts_list, POST=api.accounts_create), "accounts"),
    (
        "accounts/<str:account_id>",
        api.by_method(GET=api.account_get, DELETE=api.account_delete),
        "account",
    ),
    ("actions/run", api.by_method(POST=api.actions_run), "actions-run"),
    ("triggers/deploy", api.by_method(POST=api.triggers_deploy), "triggers-deploy"),
    ("deployed-triggers", api.by_method(GET=api.deployed_triggers_list), "deployed-triggers"),
    (
        "deployed-triggers/<str:trigger_id>",
        api.by_method(
            GET=api.deployed_trigger_get,
            PUT=api.deployed_trigger_update,
            DELETE=api.deployed_trigger_delete,
        ),
        "deployed-trigger",
    ),
    (
        "deployed-triggers/<str:trigger_id>/events",
        api.by_method(GET=api.deployed_trigger_events),
        "deployed-trigger-events",
    ),
    (
        "deployed-triggers/<str:trigger_id>/webhooks",
        api.by_method(GET=api.deployed_trigger_webhooks, PUT=api.deployed_trigger_webhooks_update),
        "deployed-trigger-webhooks",
    ),
    ("proxy/<str:url_64>", _proxy, "proxy"),
]
_project_only = [
    ("tokens", api.by_method(POST=api.tokens_create), "tokens"),
    # The component API (sandbox/components_api.py): configure and props before the
    # {component_id} routes; actions/run and triggers/deploy (above) come first too.
    *[
        route
        for kind in ("components", "actions", "triggers")
        for route in [
            (kind, api.by_method(GET=getattr(comp, f"{kind}_list")), f"{kind}-list"),
            (
                f"{kind}/configure",
                api.by_method(POST=getattr(comp, f"{kind}_configure")),
                f"{kind}-configure",
            ),
            (f"{kind}/props", api.by_method(POST=getattr(comp, f"{kind}_props")), f"{kind}-props"),
            (
                f"{kind}/<str:component_id>",
                api.by_method(GET=getattr(comp, f"{kind}_get")),
                f"{kind}-get",
            ),
        ]
    ],
    (
        "apps/<str:app_id>/accounts",
        api.by_method(DELETE=api.accounts_delete_by_app),
        "app-accounts",
    ),
    ("users", api.by_method(GET=api.users_list), "users"),
    ("users/<str:external_user_id>", api.by_method(DELETE=api.user_delete), "user"),
    (
        "users/<str:external_user_id>/accounts",
        api.by_method(GET=api.user_accounts),
        "user-accounts",
    ),
    (
        "deployed-triggers/<str:trigger_id>/webhooks/<str:webhook_id>",
        api.by_method(GET=api.deployed_trigger_webhook_get),
        "deployed-trigger-webhook",
    ),
    (
        "deployed-triggers/<str:trigger_id>/webhooks/<str:webhook_id>/regenerate_signing_key",
        api.by_method(POST=api.deployed_trigger_webhook_regenerate),
        "deployed-trigger-webhook-regenerate",
    ),
]

pipedream_patterns = [
    path("v1/oauth/token", api.oauth_token, name="oauth-token"),
    path("v1/apps", api.by_method(GET=api.apps_list), name="apps-legacy"),
    path("v1/apps/<str:app_id>", api.by_method(GET=api.apps_get), name="app-legacy"),
    path("v1/connect/apps", api.by_method(GET=api.apps_list), name="apps"),
    path("v1/connect/apps/<str:app_id>", api.by_method(GET=api.apps_get), name="app"),
    path("v1/connect/tokens/<str:ctok>/validate", api.tokens_validate, name="token-validate"),
    *[path(f"v1/connect/{rest}", view, name=f"{name}-ctok") for rest, view, name in _both_forms],
    *[
        path(f"v1/connect/<str:project_id>/{rest}", view, name=name)
        for rest, view, name in _both_forms + _project_only
    ],
    re_path(
        r"^workflows/(?P<endpoint_id>e[no][a-z0-9-]+)/?$", api.workflow_invoke, name="workflow"
    ),
    path("_static/connect.html", hosted.connect_page, name="connect"),
    re_path(
        r"^_static/connect-(?P<result>success|error)\.html$",
        hosted.connect_result,
        name="connect-result",
    ),
    re_path(r"^.*$", api.not_found),
]

# Paths as on api.bitbadges.io (no trailing slashes); anything else is a JSON 404.
bitbadges_patterns = [
    path(
        "api/v0/claims/complete/<str:claim_id>/<str:address>",
        bb.by_method(POST=bb.claims_complete),
        name="claims-complete",
    ),
    path(
        "api/v0/claims/simulate/<str:claim_id>/<str:address>",
        bb.by_method(POST=bb.claims_simulate),
        name="claims-simulate",
    ),
    path(
        "api/v0/claims/status/<str:attempt_id>",
        bb.by_method(GET=bb.claims_status, POST=bb.claims_status),
        name="claims-status",
    ),
    path(
        "api/v0/claims/<str:claim_id>/attempts",
        bb.by_method(GET=bb.claims_attempts),
        name="claims-attempts",
    ),
    # Removed from BitBadges: a JSON 404 unless SANDBOX_BITBADGES_SUCCESS_ROUTE is on.
    path(
        "api/v0/claims/success/<str:claim_id>/<str:address>",
        bb.by_method(GET=bb.claims_success_route),
        name="claims-success",
    ),
    path("api/v0/claim/<str:claim_id>", bb.by_method(GET=bb.claim_get), name="claim"),
    path("api/v1/claims/fetch", bb.by_method(POST=bb.claims_fetch), name="claims-fetch"),
    path("api/v0/claims/fetch", bb.by_method(POST=bb.claims_fetch), name="claims-fetch-v0"),
    path(
        "api/v0/storeActions/single",
        bb.by_method(POST=bb.store_action_single),
        name="store-single",
    ),
    path("api/v0/storeActions/batch", bb.by_method(POST=bb.store_action_batch), name="store-batch"),
    path(
        "api/v0/storeActions/<str:action>/<str:store_id>/<str:secret>",
        bb.by_method(POST=bb.store_action_legacy),
        name="store-legacy",
    ),
    path(
        "api/v0/dynamicStore/<str:store_id>/value",
        bb.by_method(GET=bb.store_value),
        name="store-value",
    ),
    re_path(r"^.*$", bb.not_found),
]

urlpatterns = [
    path("", views.index, name="index"),
    path("accounts/<int:pk>/health", views.account_health, name="account-health"),
    path("accounts/<int:pk>/profile", views.account_profile, name="account-profile"),
    path("accounts/<int:pk>/delete", views.account_delete, name="account-delete"),
    path("faults/add", views.fault_add, name="fault-add"),
    path("faults/<int:pk>/delete", views.fault_delete, name="fault-delete"),
    path("faults/<int:pk>/toggle", views.fault_toggle, name="fault-toggle"),
    path("webhooks/run", views.deliveries_run, name="deliveries-run"),
    path("bitbadges/demo", views.bitbadges_demo, name="bitbadges-demo"),
    path("bitbadges/credits", views.bitbadges_credits, name="bitbadges-credits"),
    path("webhooks/<int:pk>/retry", views.delivery_retry, name="delivery-retry"),
    path("triggers/<int:pk>/emit", views.trigger_emit, name="trigger-emit"),
    path("triggers/<int:pk>/toggle", views.trigger_toggle, name="trigger-toggle"),
    path("triggers/<int:pk>/delete", views.trigger_delete, name="trigger-delete"),
    path("pipedream/", include((pipedream_patterns, "pipedream"))),
    path("bitbadges/", include((bitbadges_patterns, "bitbadges"))),
]
