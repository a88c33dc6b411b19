from django.apps import AppConfig


class UsersConfig(AppConfig):
    name = "users"
    verbose_name = "Members"

    def ready(self) -> None:
        # Imported once the app registry is ready: each pulls in models.
        from allauth.mfa.signals import authenticator_added

        from users import checks  # noqa: F401  (registers the deploy check)
        from users.admin_access import record_activation  # (imports allauth's models)

        authenticator_added.connect(record_activation, dispatch_uid="users.mfa_activation")
