from django.apps import AppConfig


class SiwbbConfig(AppConfig):
    name = "users.siwbb"
    label = "siwbb"
    verbose_name = "Sign in with BitBadges"

    def ready(self) -> None:
        # Registers the system check and connects the receivers.
        from users.siwbb import checks, receivers  # noqa: F401
