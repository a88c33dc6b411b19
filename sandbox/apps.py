"""App configuration of the sandbox: the offline Pipedream and BitBadges emulator."""

from django.apps import AppConfig
from django.core import checks

from sandbox.checks import sandbox_credentials_check


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "Sandbox (emulated Pipedream and BitBadges)"

    def ready(self):
        checks.register(sandbox_credentials_check, "sandbox")
