"""The member's claims. /claims/ is a contract (DESIGN.md §4)."""

from django.urls import path

from claims import views

app_name = "claims"

urlpatterns = [
    path("claims/", views.claims, name="claims"),
    path("claims/address/", views.address, name="address"),
    path("claims/<slug:slug>/check/", views.check_again, name="check"),
    # Pipedream's trigger deliveries (signed; verified before anything changes).
    path("claims/trigger-webhook/", views.trigger_webhook, name="trigger-webhook"),
]
