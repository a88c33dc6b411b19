from django.apps import AppConfig


class HostSsoConfig(AppConfig):
    name = "users.hostsso"
    label = "hostsso"
    verbose_name = "Sign-on from the host site"

    def ready(self) -> None:
        # Registers the system checks.
        from users.hostsso import checks  # noqa: F401
