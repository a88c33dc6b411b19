"""Look for what operators must hear about, and tell them: for the scheduler, each minute.

Opens an incident per condition (completions failing, outcomes unknown too long, a
backlog, Pipedream refusing the credentials, BitBadges out of credits), tells the
operators once when it opens and once when it is resolved, and sends any alert message
the task worker has not taken (operations/alerts/).
"""

from django.core.management.base import BaseCommand

from operations.alerts import incidents


class Command(BaseCommand):
    help = (
        "Check for conditions operators must hear about (failing completions, unknown "
        "outcomes, backlog, Pipedream credentials refused, BitBadges out of credits); open "
        "or resolve incidents and send their emails and webhooks. Run it every minute."
    )

    def handle(self, *args, **options):
        report = incidents.check()
        for incident in report.opened:
            self.stdout.write(f"opened: {incident}")
        for incident in report.resolved:
            self.stdout.write(f"resolved: {incident.get_kind_display()}")
        for kind, why in report.skipped.items():
            self.stderr.write(f"{kind}: not checked: {why}")
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"{len(report.opened)} opened, {len(report.updated)} still open, "
                f"{len(report.resolved)} resolved, {report.sent} message(s) sent"
                + (f", {report.left} left for later (time spent)" if report.left else "")
            )
