"""The sandbox's URLs: the control page at /sandbox/, the emulated services below it.

pipedream/ is the emulated Pipedream (sandbox/pipedream/urls.py): what
PIPEDREAM_API_URL and PIPEDREAM_CONNECT_URL point at in sandbox mode. bitbadges/ is the
emulated BitBadges API (sandbox/bitbadges/urls.py): what BITBADGES_API_URL points at.
host/ is the host site's OpenID Connect provider (sandbox/host/urls.py): what
HOST_OIDC_ISSUER points at.
"""

from django.urls import include, path

from sandbox import views

app_name = "sandbox"

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
    path("pipedream/", include("sandbox.pipedream.urls")),
    path("bitbadges/", include("sandbox.bitbadges.urls")),
    path("host/", include("sandbox.host.urls")),
]
