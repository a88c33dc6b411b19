from django.apps import AppConfig
from django.contrib import admin


class OperationsConfig(AppConfig):
    """The operator's view of the whole programme: the admin home and alerts."""

    name = "operations"

    def ready(self) -> None:
        # Imported here, not at the top: operations.admin_home reads other apps' models,
        # which exist only once the app registry is ready.
        from operations import admin_home

        admin_home.install(admin.site)
