from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"
    verbose_name = "Members"

    def ready(self) -> None:
        from users import checks  # noqa: F401  (registers the deploy check)
