"""The member's connections. Paths are contracts (docs/architecture.md): /accounts/, /connect/..."""

from django.urls import path

from connections import views, webhooks

app_name = "connections"

urlpatterns = [
    path("accounts/", views.accounts, name="accounts"),
    path("accounts/<int:account_id>/disconnect/", views.disconnect, name="disconnect"),
    path("connect/token/", views.token, name="token"),
    path("connect/callback/", views.callback, name="callback"),
    path("connect/done/", views.done, name="done"),
    path("connect/webhook/", webhooks.webhook, name="webhook"),
    path("connect/l/<str:signed>/", views.emailed_link, name="emailed-link"),
    # Last: it would otherwise swallow token/, callback/, done/ and webhook/.
    path("connect/<slug:app>/", views.connect_link, name="connect"),
]
