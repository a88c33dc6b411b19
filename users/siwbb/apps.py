from django.apps import AppConfig


class SiwbbConfig(AppConfig):
    name = "users.siwbb"
    label = "siwbb"
    verbose_name = "Sign in with BitBadges"

    def ready(self) -> None:
        # Registers the system check and connects the receivers.
        from users.siwbb import checks, reauth, receivers  # noqa: F401

        # Members without a password re-authenticate with BitBadges (reauth.py).
        reauth.install()
