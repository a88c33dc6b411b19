from django.apps import AppConfig


class ClaimsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "claims"
    verbose_name = "Claims"

    def ready(self):
        # Imported here, once the app registry is ready (they use the models): the
        # receivers connect to connections' and allauth's signals, and the tasks module
        # provides its tasks to the engine's queue (claims/queue.py).
        from claims import queue, receivers, start_claim, tasks  # noqa: F401

        queue.require_all()
        start_claim.register()  # users.start_path asks it whether a start claim is open
