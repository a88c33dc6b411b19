from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The project's own package as an app: it holds the layout's deploy checks."""

    name = "config"
    verbose_name = "Site configuration"

    def ready(self) -> None:
        from config import checks  # noqa: F401  (registers the deploy checks)
