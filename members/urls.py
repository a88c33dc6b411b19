"""The member's own settings. /profile/ is a contract (docs/architecture.md)."""

from django.urls import path

from members import views

# The namespace stays "users": these pages were named users:profile before the members
# app existed; templates (base.html, templates/users/), redirects and the access log's
# view names (config.observability) use that name.
app_name = "users"

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("profile/address/", views.profile_address, name="profile-address"),
    path(
        "profile/bitbadges/disconnect/",
        views.profile_bitbadges_disconnect,
        name="profile-bitbadges-disconnect",
    ),
    path("profile/data/", views.profile_data, name="profile-data"),
    path("profile/delete/", views.profile_delete, name="profile-delete"),
]
