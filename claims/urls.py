"""The member's claims and each claim's public landing page. /claims/ and /c/<slug>/ are
contracts (docs/architecture.md)."""

from django.urls import path

from claims import catalogue, landing, views, views_badge

app_name = "claims"

urlpatterns = [
    path("claims/", views.claims, name="claims"),
    path("claims/address/", views.address, name="address"),
    path("claims/<slug:slug>/check/", views.check_again, name="check"),
    # Pipedream's trigger deliveries (signed; verified before anything changes).
    path("claims/trigger-webhook/", views.trigger_webhook, name="trigger-webhook"),
    # Every claim the site offers, for anyone (before "c/<slug>/").
    path("c/", catalogue.catalogue_page, name="catalogue"),
    # A claim's public landing page (the link in the BitBadges claim's instructions), and
    # the two steps a member takes on it.
    path("c/<slug:slug>/", landing.landing, name="landing"),
    path("c/<slug:slug>/address/", landing.landing_address, name="landing-address"),
    path("c/<slug:slug>/check/", landing.landing_check, name="landing-check"),
    # The badge image, from the site's own origin (claims/views_badge.py).
    path("c/<slug:slug>/badge", views_badge.badge, name="badge"),
]
