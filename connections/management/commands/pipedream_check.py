"""Check the Pipedream Connect credentials end to end, step by step.

Obtains an OAuth token with the configured client, looks up the app, mints a Connect
token for an external user and validates it for the app, then prints the Connect Link
URL a member would open. Each step prints its outcome; the first failure names the
step and Pipedream's reason and exits non-zero. The client secret is never printed;
tokens are shortened unless --show-tokens. In the development environment it says
that at most 10 members can connect, each signed in to pipedream.com, and warns when
that environment serves a public URL.
"""

import logging
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from connections import pipedream, services


def shorten(secret: str) -> str:
    """First and last four characters: enough to tell tokens apart, useless to a thief."""
    if len(secret) <= 12:
        return "…"
    return f"{secret[:4]}…{secret[-4:]}"


class Command(BaseCommand):
    help = (
        "Check the Pipedream Connect configuration end to end: OAuth token, app, Connect "
        "token, validation. Prints a Connect Link URL on success; exits non-zero naming "
        "the failing step otherwise."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--user",
            help="Mint the token for this member (username or email). "
            "Default: a throwaway external user ID.",
        )
        parser.add_argument(
            "--app", default="github", help="App slug to validate the token for (default: github)."
        )
        parser.add_argument(
            "--show-tokens",
            action="store_true",
            help="Print the OAuth and Connect tokens in full (they are shortened by default).",
        )

    def handle(self, *args, verbosity=1, **options):
        # The client logs each retry; here the steps already say what happened.
        client_logger = logging.getLogger("connections.pipedream")
        level = client_logger.level
        if verbosity < 2:
            client_logger.setLevel(logging.WARNING)
        try:
            self.run_steps(**options)
        finally:
            client_logger.setLevel(level)

    def run_steps(self, *, user=None, app="github", show_tokens=False, **options):
        self.show_tokens = show_tokens
        self.total = 5
        self.step_no = 0
        app = (app or "").strip()
        if not app or len(app) > 100 or any(ch in app for ch in "/?#&= "):
            raise CommandError(f"--app must be an app slug such as github, not {app!r}.")
        external_user_id, who = self._external_user(user)

        self.stdout.write(
            f"Checking Pipedream Connect at {settings.PIPEDREAM_API_URL} "
            f"(project {settings.PIPEDREAM_PROJECT_ID or '?'}, "
            f"{settings.PIPEDREAM_PROJECT_ENVIRONMENT})"
            + (" [sandbox]" if settings.SANDBOX else "")
        )
        if warning := services.public_development_warning():
            self.stdout.write(self.style.WARNING(f"Warning: {warning}"))
        elif settings.PIPEDREAM_PROJECT_ENVIRONMENT == "development":
            self.stdout.write(f"Note: {services.DEVELOPMENT_LIMITS}")

        client = self.step("Settings", self._settings)
        access_token = self.step("OAuth token", lambda: client.access_token(force_refresh=True))
        self.ok(f"token {self._token(access_token)}")
        app_data = self.step("App", lambda: client.get_app(app))
        app_name = app_data.get("name") or app
        self.ok(f"{app_name} ({app_data.get('name_slug', app)}, auth: {app_data.get('auth_type')})")
        token = self.step(
            "Connect token",
            lambda: client.create_connect_token(external_user_id=external_user_id),
        )
        self.ok(
            f"{self._token(token.token)} for {who}, expires {token.expires_at:%Y-%m-%d %H:%M} UTC"
        )
        validation = self.step(
            "Validate token", lambda: client.validate_connect_token(token.token, app=app)
        )
        if not validation.get("success"):
            self.fail(
                "Validate token",
                f"Pipedream says the token is not valid for {app}: "
                f"{validation.get('error') or 'no reason given'}",
            )
        self.ok(
            f"valid for {app_name} in "
            f"{validation.get('project_environment') or settings.PIPEDREAM_PROJECT_ENVIRONMENT}"
        )

        link = pipedream.connect_link_url(token.connect_link_url, app=app)
        self.stdout.write("")
        self.stdout.write(f"Connect Link for {who} (single use, expires with the token):")
        self.stdout.write(f"  {link}")
        self.stdout.write(self.style.SUCCESS(f"All {self.total} steps passed."))

    # --- helpers ------------------------------------------------------------------

    def _external_user(self, user: str | None) -> tuple[str, str]:
        if not user:
            external_id = f"pipedream-check-{uuid.uuid4()}"
            return external_id, f"throwaway external user {external_id}"
        user = user.strip()
        User = get_user_model()
        field = "email__iexact" if "@" in user else "username"
        matches = list(User.objects.filter(**{field: user})[:2])
        if len(matches) != 1:
            reason = "No member has" if not matches else "More than one member has"
            kind = "email" if "@" in user else "username"
            raise CommandError(f"{reason} the {kind} {user!r}.")
        member = matches[0]
        return str(
            member.external_id
        ), f"{member.get_username()} (external ID {member.external_id})"

    def _settings(self):
        client = pipedream.PipedreamClient.from_settings()
        secret = settings.PIPEDREAM_CLIENT_SECRET
        self.ok(
            f"client ID {settings.PIPEDREAM_CLIENT_ID}, client secret set ({len(secret)} characters)"
        )
        return client

    def _token(self, value: str) -> str:
        return value if self.show_tokens else shorten(value)

    def step(self, name: str, action):
        self.step_no += 1
        self.stdout.write(f"  [{self.step_no}/{self.total}] {name:<15} ", ending="")
        self.stdout.flush()
        try:
            return action()
        except pipedream.PipedreamError as exc:
            self.fail(name, str(exc))

    def ok(self, detail: str):
        self.stdout.write(self.style.SUCCESS("ok") + f"  {detail}")

    def fail(self, name: str, reason: str):
        self.stdout.write(self.style.ERROR("FAILED"))
        raise CommandError(f"Step {self.step_no} of {self.total} ({name}) failed: {reason}")
