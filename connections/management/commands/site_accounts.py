"""The site's own accounts at Pipedream: list them, sync them, or connect one.

A claim whose trigger watches a shared resource (stars of one repository) runs it once,
on an account the site holds. `--connect github` prints the hosted Connect Link page an
operator opens to sign in with that account; then `--sync` (or the admin's Site
accounts page) records it from Pipedream's list.
"""

from django.core.management.base import BaseCommand, CommandError

from connections import services
from connections.models import App, SiteAccount


class Command(BaseCommand):
    help = (
        "List the site's own accounts; --sync reads them from Pipedream; --connect APP prints "
        "the link an operator opens to connect one (e.g. --connect github)."
    )

    def add_arguments(self, parser):
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--sync", action="store_true", help="Read them from Pipedream.")
        group.add_argument("--connect", metavar="APP", help="An app's slug, e.g. github.")

    def handle(self, *args, sync=False, connect=None, **options):
        user = services.site_external_user_id()
        if connect is not None:
            app = App.objects.filter(slug=connect.strip()).first()
            if app is None:
                raise CommandError(f"No app {connect!r}; sync_apps --enable {connect} adds it.")
            try:
                link = services.site_connect_link(app=app)
            except services.UpstreamError as exc:
                raise CommandError(f"Pipedream did not answer: {exc.cause}") from exc
            self.stdout.write(
                f"Open this link and sign in to {app.name} with the account the site will use "
                f"(kept at Pipedream under the user {user!r}; the link works once, for 4 "
                f"hours):\n{link}\nThen run: manage.py site_accounts --sync"
            )
            return
        if sync:
            try:
                result = services.site_accounts_sync()
            except services.UpstreamError as exc:
                raise CommandError(f"Could not list the site's accounts: {exc.cause}") from exc
            self.stdout.write(f"The site's accounts, from Pipedream: {result}.")
        accounts = list(SiteAccount.objects.select_related("app"))
        if not accounts:
            self.stdout.write(
                f"The site holds no accounts (Pipedream user {user!r}). "
                "Connect one: manage.py site_accounts --connect github"
            )
            return
        for account in accounts:
            health = account.health
            self.stdout.write(
                f"{account.app.slug}\t{account.name or '-'}\t{health}\t{account.pipedream_id}"
            )
