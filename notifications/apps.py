from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """What the site tells a member by email (a badge earned, an account a claim needs
    that stopped working), their choices and one-click unsubscribe. It listens to claims'
    and connections' signals; neither imports it."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        # Imported once the app registry is ready (they use the models): the receivers
        # connect to claims' and connections' signals; the task registers with the worker.
        from notifications import receivers, tasks  # noqa: F401
