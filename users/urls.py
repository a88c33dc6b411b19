"""The member's own settings. /profile/ is a contract (DESIGN.md §4)."""

from django.urls import path

from users import views

app_name = "users"

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("profile/address/", views.profile_address, name="profile-address"),
    path("profile/delete/", views.profile_delete, name="profile-delete"),
]
