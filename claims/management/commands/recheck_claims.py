"""Re-check what is due on a schedule: for cron (e.g. every 15 minutes).

What it does is services.recheck (claims/services.py):

- Not-eligible completions of claims that have a re-check interval, once their time has
  come. Each re-check that still finds the member not eligible doubles the wait (up to
  64 times the interval), so a member who never qualifies costs few upstream calls.
- Accounts whose health has not been synced for --stale (default 24 h): synced with
  Pipedream first, so a recovered account lets its claims go on (the health signal
  queues them) and a broken one pauses them.
"""

from django.core.management.base import BaseCommand, CommandError

from claims import services


class Command(BaseCommand):
    help = (
        "Queue the scheduled re-checks of not-eligible claim completions (with backoff) and "
        "sync accounts whose health is stale. Suitable for cron."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--stale",
            type=float,
            default=24.0,
            help="Sync accounts not synced for this many hours first (0: skip). Default 24.",
        )
        parser.add_argument("--limit", type=int, help="At most N members synced and N re-checks.")

    def handle(self, *args, stale=24.0, limit=None, **options):
        if limit is not None and limit < 1:
            raise CommandError("--limit must be a positive number.")
        if stale < 0 or stale > 24 * 365:
            raise CommandError("--stale is a number of hours between 0 and 8760.")
        totals = services.recheck(stale_hours=stale, limit=limit, write=self.stderr.write)
        self.stdout.write(
            self.style.SUCCESS(
                f"{totals['rechecks']} re-check(s) queued; {totals['synced']} member(s) synced"
                f"{f', {totals["sync_failed"]} could not be' if totals['sync_failed'] else ''}."
            )
        )
