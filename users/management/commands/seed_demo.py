"""Seed the demo: members alice and bob, the admin, and the demo apps. Safe to re-run.

`make run` runs it after `migrate`. Existing rows are brought back to the demo state
(passwords excepted: a changed password is left alone), never duplicated.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

DEMO_PASSWORD = "connect-demo"
DEMO_MEMBERS = [
    # username, email, first name, BitBadges address, staff
    ("alice", "alice@example.com", "Alice", "0x742d35cC6634c0532925A3b844bc9E7595F0beB1", False),
    ("bob", "bob@example.com", "Bob", "", False),
    ("admin", "admin@example.com", "Admin", "", True),
]
DEMO_APPS = ["github", "slack", "google_sheets", "discord", "gitlab", "notion"]


class Command(BaseCommand):
    help = "Create (or refresh) the demo members alice, bob and admin, and the demo apps."

    def handle(self, *args, **options):
        with transaction.atomic():
            for username, email, first_name, address, staff in DEMO_MEMBERS:
                self._member(username, email, first_name, address, staff)
        self._apps()
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo ready: log in as alice, bob or admin with the password {DEMO_PASSWORD!r}."
            )
        )

    def _member(self, username, email, first_name, address, staff):
        User = get_user_model()
        user, created = User.objects.get_or_create(
            username=username,
            defaults={"email": email, "first_name": first_name, "address": address},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
        user.email, user.first_name, user.address = email, first_name, address
        user.is_active = True
        user.is_staff = user.is_superuser = staff
        user.save()
        verb = "Created" if created else "Refreshed"
        self.stdout.write(f"{verb} {'admin' if staff else 'member'} {username}")

    def _apps(self):
        from connections.services import app_upsert_from_pipedream

        for order, data in enumerate(self._app_data()):
            app, created = app_upsert_from_pipedream(data=data, enabled=True, order=order)
            self.stdout.write(f"{'Created' if created else 'Refreshed'} app {app.slug}")

    def _app_data(self) -> list[dict]:
        if settings.SANDBOX:
            from sandbox.catalogue import get_catalogue_app

            return [get_catalogue_app(slug) for slug in DEMO_APPS]
        from connections import pipedream

        client = pipedream.get_client()
        try:
            return [client.get_app(slug) for slug in DEMO_APPS]
        except pipedream.PipedreamError as exc:
            raise CommandError(f"Could not fetch the demo apps from Pipedream: {exc}") from exc
