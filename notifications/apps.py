from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """What the site tells a member by email (a badge earned, an account a claim needs
    that stopped working), their choices and one-click unsubscribe. It listens to claims'
    and connections' signals; neither imports it."""

    name = "notifications"
    verbose_name = "Notifications"
