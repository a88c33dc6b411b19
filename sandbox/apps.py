"""App configuration of the sandbox: the offline Pipedream (and later BitBadges) emulator."""

from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "Sandbox (emulated Pipedream and BitBadges)"
