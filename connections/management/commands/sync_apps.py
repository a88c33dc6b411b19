"""Refresh the app catalogue from Pipedream, and enable apps by slug.

Apps are what members may connect; the admin enables them. Names, logos and
descriptions come from Pipedream and change there, so this refreshes them.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from connections import pipedream, services
from connections.models import App


class Command(BaseCommand):
    help = (
        "Refresh apps from Pipedream's catalogue. With the sandbox, every app of its "
        "catalogue is listed page by page; against the real Pipedream (thousands of apps) "
        "only the apps already here plus those named with --enable are fetched. "
        "--enable github,slack also lets members connect those."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--enable", default="", help="Comma-separated app slugs to fetch and enable."
        )
        parser.add_argument(
            "--all",
            action="store_true",
            help="Page through the whole catalogue even against the real Pipedream.",
        )

    def handle(self, *args, enable="", all=False, **options):
        wanted = [slug.strip() for slug in enable.split(",") if slug.strip()]
        bad = [slug for slug in wanted if len(slug) > 100 or any(c in slug for c in "/?#&= ")]
        if bad:
            raise CommandError(f"Not an app slug: {', '.join(map(repr, bad))}.")
        client = pipedream.get_client()
        created = updated = 0
        try:
            if settings.SANDBOX or all:
                catalogue = list(client.iter_apps())
            else:
                slugs = sorted(set(App.objects.values_list("slug", flat=True)) | set(wanted))
                catalogue = []
                for slug in slugs:
                    try:
                        catalogue.append(client.get_app(slug))
                    except pipedream.NotFound:
                        self.stderr.write(f"{slug}: Pipedream has no such app.")
        except pipedream.PipedreamError as exc:
            raise CommandError(f"Could not list Pipedream's apps: {exc}") from exc
        known = {data.get("name_slug") for data in catalogue}
        missing = [slug for slug in wanted if slug not in known]
        if missing:
            raise CommandError(
                f"Pipedream has no app {', '.join(map(repr, missing))}; nothing was enabled."
            )
        for data in catalogue:
            if not data.get("name_slug"):
                continue
            enabled = True if data["name_slug"] in wanted else None
            app, was_created = services.app_upsert_from_pipedream(data=data, enabled=enabled)
            created += was_created
            updated += not was_created
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(catalogue)} app(s) from Pipedream: {created} new, {updated} refreshed"
                + (f"; enabled {', '.join(wanted)}" if wanted else "")
                + "."
            )
        )
