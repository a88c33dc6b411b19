from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Signed webhooks to the host site (Standard Webhooks): completions, connected
    accounts' health and members' deletion, sent by the task worker with retries, a
    delivery log with replay in the admin. It listens to claims', connections' and the
    user model's signals; none of them imports it."""

    name = "webhooks"
    verbose_name = "Webhooks to the host site"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Imported once the app registry is ready (they use the models): the receivers
        # connect to the signals; the task registers with the worker.
        from webhooks import receivers, tasks  # noqa: F401
