"""Remove stored deliveries, ended Connect sessions, raw bodies and evidence past their
retention: for cron (hourly; the scheduler of Procfile.scaled runs it). What goes, and
when, is in claims/retention.py and the RETENTION_* settings."""

from django.core.management.base import BaseCommand, CommandError

from claims import retention

BATCH_MAX = 100_000


def _batch_size(raw: object) -> int:
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= BATCH_MAX:
        raise CommandError(
            f"--batch-size is a whole number of rows from 1 to {BATCH_MAX:,}, not {raw!r}."
        )
    return int(text)


class Command(BaseCommand):
    help = (
        "Delete stored deliveries and ended Connect sessions, and strip raw bodies and "
        "completion evidence past their retention (RETENTION_* settings), in batches. "
        "Suitable for cron."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Count what would be removed, per kind; change nothing.",
        )
        parser.add_argument(
            "--batch-size",
            default=str(retention.BATCH_SIZE),
            help=f"Rows per transaction (default {retention.BATCH_SIZE}).",
        )

    def handle(self, *args, dry_run=False, batch_size=None, **options):
        size = _batch_size(batch_size if batch_size is not None else retention.BATCH_SIZE)
        totals = retention.prune(dry_run=dry_run, batch_size=size)
        if options.get("verbosity", 1) < 1:
            return
        verb = "would remove" if dry_run else "removed"
        for name, count in totals.items():
            self.stdout.write(f"{name}: {verb} {count}")
        summary = f"{sum(totals.values())} row(s) {'to prune' if dry_run else 'pruned'}"
        self.stdout.write(self.style.SUCCESS(summary + (" (dry run)." if dry_run else ".")))
