"""The member's email choices and the unsubscribe link the emails carry."""

from django.urls import path

from notifications import views

app_name = "notifications"

urlpatterns = [
    path("profile/notifications/", views.preferences, name="preferences"),
    path("notifications/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
