from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = "Webhooks to the host site"
    default_auto_field = "django.db.models.BigAutoField"
