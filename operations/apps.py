from django.apps import AppConfig


class OperationsConfig(AppConfig):
    """The operator's view of the whole programme: the admin home and alerts."""

    name = "operations"
